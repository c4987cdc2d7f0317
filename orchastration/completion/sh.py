"""The bash and zsh completion scripts, which share their tables and their walk (in bash/zsh syntax).

Its tables and its walk over the words before the cursor follow the one design all the scripts share
(``orchastration.completion``).
"""

from __future__ import annotations

from collections.abc import Sequence

from orchastration.completion import header
from orchastration.completion.table import Command


def _sh(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def _assoc(name: str, rows: Sequence[tuple[str, str]], zsh: bool) -> str:
    # bash 4 reads `([key]=value ...)`; zsh reads `(key value ...)` (bash only from 5.1 on).
    pair = "  {} {}\n" if zsh else "  [{}]={}\n"
    body = "".join(pair.format(_sh(key), _sh(value)) for key, value in rows if value)
    return f"{name}=(\n{body})\n"


def _kinds(cmd: Command) -> str:
    return " ".join(f"{flag}={kind}" for flag, kind in cmd.option_kinds)


def _sh_tables(table: Sequence[Command], zsh: bool) -> str:
    columns: dict[str, list[tuple[str, str]]] = {
        "_orchastration_subcmds": [(c.path, " ".join(n for n, _ in c.subcommands)) for c in table],
        "_orchastration_opts": [(c.path, " ".join(f for f, _ in c.options)) for c in table],
        "_orchastration_optargs": [(c.path, _kinds(c)) for c in table],
        "_orchastration_pos": [(c.path, " ".join(c.positionals)) for c in table],
        "_orchastration_rest": [(c.path, c.rest) for c in table],
    }
    declare = "typeset -gA" if zsh else "declare -gA"
    return f"{declare} {' '.join(columns)}\n" + "".join(_assoc(name, rows, zsh) for name, rows in columns.items())


# The walk, in bash and zsh alike (zsh runs it with KSH_ARRAYS off, but it indexes no arrays).
# In: "$cur" then the words between the command name and the cursor. Out: _orchastration_path,
# _orchastration_kind (subcmds | opts | a value kind) and _orchastration_config (a --config value).
_SH_WALK = r"""
_orchastration_walk() {
  local cur=$1 word entry flag= expect= dashdash= npos=0 kinds
  shift
  _orchastration_path=orchastration _orchastration_config= _orchastration_kind=none
  for word in "$@"; do
    if [[ $word == "=" && -n $flag ]]; then continue; fi  # bash splits --flag=value at '='
    if [[ -n $expect ]]; then
      [[ $flag == --config ]] && _orchastration_config=$word
      expect= flag=
      continue
    fi
    if [[ -z $dashdash && $word == -- ]]; then dashdash=1; continue; fi
    if [[ -z $dashdash && $word == -* ]]; then
      if [[ $word == *=* ]]; then
        [[ $word == --config=* ]] && _orchastration_config=${word#*=}
        continue
      fi
      entry=" ${_orchastration_optargs[$_orchastration_path]} "
      if [[ $entry == *" $word="* ]]; then
        expect=${entry#*" $word="}
        expect=${expect%% *}
        flag=$word
      fi
      continue
    fi
    if [[ $npos == 0 && " ${_orchastration_subcmds[$_orchastration_path]} " == *" $word "* ]]; then
      _orchastration_path+=" $word"
      continue
    fi
    npos=$((npos + 1))
  done
  if [[ -n $expect ]]; then
    _orchastration_kind=$expect
  elif [[ -n $dashdash && -n ${_orchastration_rest[$_orchastration_path]} ]]; then
    _orchastration_kind=${_orchastration_rest[$_orchastration_path]}  # `run JOB -- ARG ...`
  elif [[ -z $dashdash && $cur == -*=* ]]; then
    entry=" ${_orchastration_optargs[$_orchastration_path]} "
    if [[ $entry == *" ${cur%%=*}="* ]]; then
      _orchastration_kind=${entry#*" ${cur%%=*}="}
      _orchastration_kind=${_orchastration_kind%% *}
    fi
  elif [[ -z $dashdash && $cur == -* ]]; then
    _orchastration_kind=opts
  elif [[ $npos == 0 && -n ${_orchastration_subcmds[$_orchastration_path]} ]]; then
    _orchastration_kind=subcmds
  else
    kinds=${_orchastration_pos[$_orchastration_path]}
    while [[ $npos -gt 0 && $kinds == *" "* ]]; do  # drop the kinds of the positionals typed
      kinds=${kinds#* }
      npos=$((npos - 1))
    done
    word=${kinds%% *}
    # Past the last positional only a repeating one ("jobs...") goes on.
    [[ $npos == 0 || $word == *... ]] || word=none
    _orchastration_kind=${word%...}
    [[ -n $_orchastration_kind ]] || _orchastration_kind=none
  fi
}

_orchastration_names() {  # kind program config: the names, one a line
  if [[ -n $3 ]]; then
    "$2" --config "$3" completion --names "$1" 2>/dev/null
  else
    "$2" completion --names "$1" 2>/dev/null
  fi
}
"""

_BASH_MAIN = r"""
_orchastration() {
  local cur=${COMP_WORDS[COMP_CWORD]} prog=${COMP_WORDS[0]} config
  [[ $cur == "=" ]] && cur=  # after "--flag=": bash completes the text behind '='
  _orchastration_walk "$cur" "${COMP_WORDS[@]:1:COMP_CWORD-1}"
  [[ $cur == -*=* ]] && cur=${cur#*=}
  config=${_orchastration_config/#\~/$HOME}
  COMPREPLY=()
  case $_orchastration_kind in
    subcmds) mapfile -t COMPREPLY < <(compgen -W "${_orchastration_subcmds[$_orchastration_path]}" -- "$cur") ;;
    opts) mapfile -t COMPREPLY < <(compgen -W "${_orchastration_opts[$_orchastration_path]}" -- "$cur") ;;
    file) compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -f -- "$cur") ;;
    dir) compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -d -- "$cur") ;;
    choice:*)
      local choices=${_orchastration_kind#choice:}
      mapfile -t COMPREPLY < <(compgen -W "${choices//,/ }" -- "$cur") ;;
    jobs|tasks|orchestrations|agents)
      local names
      names=$(_orchastration_names "$_orchastration_kind" "$prog" "$config")
      mapfile -t COMPREPLY < <(compgen -W "$names" -- "$cur") ;;
  esac
  return 0
}

complete -F _orchastration orchastration
"""


def bash(table: Sequence[Command], version: str) -> str:
    """The bash script (bash 4.2+): ``source <(orchastration completion bash)``."""
    install = """
Load it in this shell:   source <(orchastration completion bash)
Install it for yourself: orchastration completion bash > ~/.local/share/bash-completion/completions/orchastration
"""
    return header("#", "bash", version, install) + "\n" + _sh_tables(table, zsh=False) + _SH_WALK + _BASH_MAIN


_ZSH_MAIN = r"""
_orchastration() {
  local cur=${words[CURRENT]} prog=${words[1]} config line
  local -a items
  _orchastration_walk "$cur" "${(@)words[2,CURRENT-1]}"
  config=${_orchastration_config/#\~/$HOME}
  [[ $cur == -*=* && $_orchastration_kind != opts ]] && compset -P '*='
  case $_orchastration_kind in
    subcmds)
      items=(${(f)_orchastration_subhelp[$_orchastration_path]})
      _describe -t commands command items ;;
    opts)
      items=(${(f)_orchastration_opthelp[$_orchastration_path]})
      _describe -t options option items ;;
    file) _files ;;
    dir) _files -/ ;;
    choice:*) compadd -- ${(s:,:)_orchastration_kind#choice:} ;;
    jobs|tasks|orchestrations|agents)
      items=(${(f)"$(_orchastration_names $_orchastration_kind $prog $config)"})
      compadd -- $items ;;
  esac
}

if [[ ${funcstack[1]:-} == _orchastration ]]; then
  _orchastration "$@"  # autoloaded from $fpath
else
  compdef _orchastration orchastration
fi
"""


def _described(pairs: Sequence[tuple[str, str]]) -> str:
    return "\n".join(f"{name}:{text}" if text else name for name, text in pairs)


def zsh(table: Sequence[Command], version: str) -> str:
    """The zsh script: autoload it from ``$fpath`` as ``_orchastration``, or source it after compinit."""
    install = """
Load it in this shell (after compinit): source <(orchastration completion zsh)
Install it: orchastration completion zsh > ~/.zfunc/_orchastration
            and in ~/.zshrc, before compinit: fpath=(~/.zfunc $fpath)
"""
    helps = "typeset -gA _orchastration_subhelp _orchastration_opthelp\n"
    helps += _assoc("_orchastration_subhelp", [(c.path, _described(c.subcommands)) for c in table], zsh=True)
    helps += _assoc("_orchastration_opthelp", [(c.path, _described(c.options)) for c in table], zsh=True)
    body = _sh_tables(table, zsh=True) + helps + _SH_WALK + _ZSH_MAIN
    return "#compdef orchastration\n" + header("#", "zsh", version, install) + "\n" + body
