"""The bash, zsh, fish and PowerShell completion scripts, rendered from ``completion.command_table``.

Every script holds the same tables (per command path: subcommands, flags, what each flag's value and
each positional completes to) and the same walk over the words before the cursor: flags are skipped
(with their value when they take one), words naming a subcommand extend the path, other words count
as positionals. The current word then completes to flags, subcommands, or the kind of value expected;
names come from ``orchastration [--config FILE] completion --names KIND``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from orchastration.completion import ROOT, Command

_HEADER = """\
{comment} {shell} completion for orchastration {version}, printed by `orchastration completion {shell}`.
{comment} Commands and flags are those of the orchastration that printed it: print it again after an upgrade.
{comment} Job, task, orchestration and agent names are read from the current config at each <Tab>.
"""


def _header(comment: str, shell: str, version: str, install: str) -> str:
    text = _HEADER.format(comment=comment, shell=shell, version=version)
    return text + "".join(f"{comment} {line}\n" for line in install.strip().splitlines())


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
    return _header("#", "bash", version, install) + "\n" + _sh_tables(table, zsh=False) + _SH_WALK + _BASH_MAIN


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
    return "#compdef orchastration\n" + _header("#", "zsh", version, install) + "\n" + body


def _fish(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _fish_switch(name: str, doc: str, table: Sequence[Command], lines: Callable[[Command], list[str]]) -> str:
    cases = ""
    for cmd in table:
        rows = lines(cmd)
        if rows:
            cases += f"        case {_fish(cmd.path)}\n" + "".join(f"            echo {row}\n" for row in rows)
    return f"function {name} --description {_fish(doc)}\n    switch $argv[1]\n{cases}    end\nend\n\n"


def _tabbed(pairs: Sequence[tuple[str, str]]) -> list[str]:
    return [_fish(f"{name}\t{text}" if text else name) for name, text in pairs]


_FISH_MAIN = r"""
function __orchastration_candidates --description 'completions: argv = current word, then the words before it'
    set -l cur $argv[1]
    set -e argv[1]
    set -l path orchastration
    set -l expect ''
    set -l flag ''
    set -l config ''
    set -l dashdash ''
    set -l npos 0
    for word in $argv
        if test -n "$expect"
            test "$flag" = --config; and set config $word
            set expect ''
            set flag ''
            continue
        end
        if test -z "$dashdash"; and test "$word" = --
            set dashdash 1
            continue
        end
        if test -z "$dashdash"; and string match -q -- '-*' $word
            if string match -q -- '*=*' $word
                string match -q -- '--config=*' $word; and set config (string replace -r '^[^=]*=' '' -- $word)
                continue
            end
            set expect (__orchastration_optkind $path $word)
            test -n "$expect"; and set flag $word
            continue
        end
        if test $npos -eq 0; and contains -- $word (__orchastration_subcmds $path | string replace -r '\t.*' '')
            set path "$path $word"
            continue
        end
        set npos (math $npos + 1)
    end
    set -l prefix ''
    set -l kind none
    set -l subcmds (__orchastration_subcmds $path)
    if test -n "$expect"
        set kind $expect
    else if test -z "$dashdash"; and string match -q -- '-*=*' $cur
        set prefix (string replace -r '=.*' '=' -- $cur)
        set kind (__orchastration_optkind $path (string replace -r '=.*' '' -- $cur))
        set cur (string replace -r '^[^=]*=' '' -- $cur)
    else if test -z "$dashdash"; and string match -q -- '-*' $cur
        __orchastration_opts $path
        return
    else if test $npos -eq 0; and test (count $subcmds) -gt 0
        printf '%s\n' $subcmds
        return
    else
        set -l kinds (__orchastration_pos $path)
        if test $npos -lt (count $kinds)
            set kind $kinds[(math $npos + 1)]
        else if test (count $kinds) -gt 0; and string match -q -- '*...' $kinds[-1]
            set kind $kinds[-1]
        end
        set kind (string replace -r '\.\.\.$' '' -- $kind)
    end
    test -n "$kind"; or return
    set -l values
    switch $kind
        case file
            set values (__fish_complete_path $cur)
        case dir
            set values (__fish_complete_directories $cur)
        case 'choice:*'
            set values (string split , -- (string replace 'choice:' '' -- $kind))
        case jobs tasks orchestrations agents
            set -l cfg
            test -n "$config"; and set cfg --config (string replace -r '^~' $HOME -- $config)
            set values ($__orchastration_prog $cfg completion --names $kind 2>/dev/null)
    end
    for value in $values
        echo "$prefix$value"
    end
end

function __orchastration_complete --description 'orchastration completions for the command line being edited'
    set -l tokens (commandline -opc)
    set -g __orchastration_prog $tokens[1]
    set -e tokens[1]
    __orchastration_candidates (commandline -ct) $tokens
end

complete -c orchastration -f -a '(__orchastration_complete)'
"""


def fish(table: Sequence[Command], version: str) -> str:
    """The fish script: ``orchastration completion fish | source``."""
    install = """
Load it in this shell: orchastration completion fish | source
Install it:            orchastration completion fish > ~/.config/fish/completions/orchastration.fish
"""
    body = _fish_switch("__orchastration_subcmds", "subcommands of a command path", table,
                        lambda c: _tabbed(c.subcommands))  # fmt: skip
    body += _fish_switch("__orchastration_opts", "flags of a command path", table, lambda c: _tabbed(c.options))
    body += _fish_switch("__orchastration_pos", "what the positionals of a command path complete to", table,
                         lambda c: [_fish(k) for k in c.positionals])  # fmt: skip
    cases = "".join(
        f"        case {_fish(cmd.path + ' ' + flag)}\n            echo {_fish(kind)}\n"
        for cmd in table
        for flag, kind in cmd.option_kinds
    )
    body += (
        "function __orchastration_optkind --description 'what the value of a flag completes to (nothing: no value)'\n"
        f'    switch "$argv[1] $argv[2]"\n{cases}    end\nend\n'
    )
    body += "\nset -g __orchastration_prog " + ROOT + "\n"
    return _header("#", "fish", version, install) + "\n" + body + _FISH_MAIN


def _ps(text: str) -> str:
    # PowerShell also ends a single-quoted string at typographic single quotes: double them too.
    for quote in ("'", "\u2018", "\u2019", "\u201a", "\u201b"):
        text = text.replace(quote, quote + quote)
    return f"'{text}'"


def _ps_lists(name: str, rows: Sequence[tuple[str, list[str]]]) -> str:
    body = "".join(f"        {_ps(key)} = @({', '.join(values)})\n" for key, values in rows if values)
    return f"    ${name} = @{{\n{body}    }}\n"


_PS_MAIN = r"""
    # Words before the cursor (the command name first), quoted strings unquoted.
    $elements = @($commandAst.CommandElements | Where-Object { $_.Extent.StartOffset -lt $cursorPosition } |
        ForEach-Object {
            if ($_ -is [System.Management.Automation.Language.StringConstantExpressionAst]) { $_.Value }
            else { $_.Extent.Text }
        })
    $prog = $elements[0]
    $words = @()
    $last = $elements.Count - 1
    if ($wordToComplete -ne '') { $last-- }  # the last element is the word being completed
    if ($last -ge 1) { $words = @($elements[1..$last]) }

    $path = 'orchastration'; $expect = ''; $flag = ''; $config = ''; $dashdash = $false; $npos = 0
    foreach ($word in $words) {
        if ($expect -ne '') {
            if ($flag -ceq '--config') { $config = $word }
            $expect = ''; $flag = ''
            continue
        }
        if (-not $dashdash -and $word -ceq '--') { $dashdash = $true; continue }
        if (-not $dashdash -and $word.StartsWith('-')) {
            if ($word.Contains('=')) {
                if ($word.StartsWith('--config=')) { $config = $word.Substring(9) }
                continue
            }
            if ($optKinds.ContainsKey("$path $word")) { $expect = $optKinds["$path $word"]; $flag = $word }
            continue
        }
        if ($npos -eq 0 -and $subcmds.ContainsKey($path) -and
            (@($subcmds[$path] | ForEach-Object { ($_ -split "`t", 2)[0] }) -ccontains $word)) {
            $path = "$path $word"
            continue
        }
        $npos++
    }

    $cur = $wordToComplete; $prefix = ''; $kind = 'none'; $results = @(); $type = 'ParameterValue'
    if ($expect -ne '') {
        $kind = $expect
    } elseif (-not $dashdash -and $cur -like '-*=*') {
        $flagName, $cur = $cur -split '=', 2
        $prefix = "$flagName="
        if ($optKinds.ContainsKey("$path $flagName")) { $kind = $optKinds["$path $flagName"] }
    } elseif (-not $dashdash -and $cur.StartsWith('-')) {
        if ($opts.ContainsKey($path)) { $results = $opts[$path] }
        $type = 'ParameterName'
    } elseif ($npos -eq 0 -and $subcmds.ContainsKey($path)) {
        $results = $subcmds[$path]
        $type = 'Command'
    } else {
        $kinds = @()
        if ($positionals.ContainsKey($path)) { $kinds = @($positionals[$path]) }
        if ($npos -lt $kinds.Count) { $kind = $kinds[$npos] }
        elseif ($kinds.Count -gt 0 -and $kinds[-1].EndsWith('...')) { $kind = $kinds[-1] }
        $kind = $kind -replace '\.\.\.$', ''
    }
    if ($kind.StartsWith('choice:')) {
        $results = $kind.Substring(7) -split ','
    } elseif (@('jobs', 'tasks', 'orchestrations', 'agents') -ccontains $kind) {
        $cfg = @()
        if ($config -ne '') { $cfg = @('--config', $config) }
        $results = @(& $prog @cfg completion --names $kind 2>$null)
    }
    # file, dir: no results, so PowerShell completes paths itself.
    foreach ($result in $results) {
        $name, $tip = $result -split "`t", 2
        if (-not $name -or -not $name.StartsWith($cur, [System.StringComparison]::Ordinal)) { continue }
        if (-not $tip) { $tip = $name }
        [System.Management.Automation.CompletionResult]::new("$prefix$name", $name, $type, $tip)
    }
}
"""


def powershell(table: Sequence[Command], version: str) -> str:
    """The PowerShell script (5.1 and 7+): ``orchastration completion powershell | Out-String | Invoke-Expression``."""
    install = """
Load it in this session: orchastration completion powershell | Out-String | Invoke-Expression
Install it: orchastration completion powershell >> $PROFILE   (or dot-source a saved copy from $PROFILE)
"""

    def tabbed(pairs: Sequence[tuple[str, str]]) -> list[str]:
        return [_ps(f"{name}\t{text}" if text else name) for name, text in pairs]

    tables = _ps_lists("subcmds", [(c.path, tabbed(c.subcommands)) for c in table])
    tables += _ps_lists("opts", [(c.path, tabbed(c.options)) for c in table])
    tables += _ps_lists("positionals", [(c.path, [_ps(k) for k in c.positionals]) for c in table])
    # Ordinal keys: flags differ by case (-v / -V) where hashtables would not tell them apart.
    tables += "    $optKinds = New-Object System.Collections.Hashtable ([System.StringComparer]::Ordinal)\n"
    tables += "".join(
        f"    $optKinds[{_ps(c.path + ' ' + flag)}] = {_ps(kind)}\n" for c in table for flag, kind in c.option_kinds
    )
    start = (
        "Register-ArgumentCompleter -Native -CommandName 'orchastration', 'orchastration.exe' -ScriptBlock {\n"
        "    param($wordToComplete, $commandAst, $cursorPosition)\n"
    )
    return _header("#", "powershell", version, install) + "\n" + start + tables + _PS_MAIN
