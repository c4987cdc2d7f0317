# Helpers dot-sourced by build-windows.ps1 and package-windows.ps1; the caller sets $Name.

function Fail([string]$Message) {
    [Console]::Error.WriteLine("${Name}: error: $Message")
    exit 2
}

function Say([string]$Message) {
    [Console]::Error.WriteLine("${Name}: $Message")
}

function Get-Setting([string]$Variable, [string]$Default) {
    $value = [Environment]::GetEnvironmentVariable($Variable)
    if ([string]::IsNullOrEmpty($value)) { return $Default }
    return $value
}
