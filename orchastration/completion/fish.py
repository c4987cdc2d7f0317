"""The fish completion script.

Its tables and its walk over the words before the cursor follow the one design all the scripts share
(``orchastration.completion``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from orchastration.completion import ROOT, header
from orchastration.completion.table import Command


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
    set -l rest (__orchastration_rest $path)
    if test -n "$expect"
        set kind $expect
    else if test -n "$dashdash"; and test -n "$rest"
        set kind $rest
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
    body += _fish_switch("__orchastration_rest", "what the words after -- complete to", table,
                         lambda c: [_fish(c.rest)] if c.rest else [])  # fmt: skip
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
    return header("#", "fish", version, install) + "\n" + body + _FISH_MAIN
