"""The PowerShell completion script (Windows PowerShell 5.1 and PowerShell 7+).

Its tables and its walk over the words before the cursor follow the one design all the scripts share
(``orchastration.completion``).
"""

from __future__ import annotations

from collections.abc import Sequence

from orchastration.completion import header
from orchastration.completion.table import Command


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
    } elseif ($dashdash -and $rest.ContainsKey($path)) {
        $kind = @($rest[$path])[0]
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
    tables += _ps_lists("rest", [(c.path, [_ps(c.rest)] if c.rest else []) for c in table])
    # Ordinal keys: flags differ by case (-v / -V) where hashtables would not tell them apart.
    tables += "    $optKinds = New-Object System.Collections.Hashtable ([System.StringComparer]::Ordinal)\n"
    tables += "".join(
        f"    $optKinds[{_ps(c.path + ' ' + flag)}] = {_ps(kind)}\n" for c in table for flag, kind in c.option_kinds
    )
    start = (
        "Register-ArgumentCompleter -Native -CommandName 'orchastration', 'orchastration.exe' -ScriptBlock {\n"
        "    param($wordToComplete, $commandAst, $cursorPosition)\n"
    )
    return header("#", "powershell", version, install) + "\n" + start + tables + _PS_MAIN
