<#
.SYNOPSIS
Package the Windows executable: dist\orchastration-<version>-windows-<arch>.zip and dist\SHA256SUMS.

.DESCRIPTION
The same steps as scripts/package-linux.sh. The zip holds orchastration-<version>-windows-<arch>\ with
orchastration.exe, the licence (LICENSE, NOTICE), README.md, CHANGELOG.md, INSTALL.md and the shell
completion scripts printed by the executable itself. Builds dist\orchastration.exe first
(scripts\build-windows.ps1) when it is missing or reports another version.

Environment (all optional):
  ORCHASTRATION_DIST_DIR     where the executable is and the zip goes   (default: <repo>\dist)
  ORCHASTRATION_BUILD_DIR    staging files                              (default: <repo>\build)

.EXAMPLE
.\scripts\package-windows.ps1
#>
[CmdletBinding()]
param()

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$Name = 'package-windows.ps1'

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

# UTF-8 without a byte-order mark and LF line ends, as the Linux packages write them.
function Write-Utf8([string]$Path, [string]$Text) {
    [IO.File]::WriteAllText($Path, $Text.Replace("`r`n", "`n"), (New-Object Text.UTF8Encoding $false))
}

$Root = (Resolve-Path (Join-Path $PSScriptRoot '..')).Path
$DistDir = Get-Setting 'ORCHASTRATION_DIST_DIR' (Join-Path $Root 'dist')
$BuildDir = Get-Setting 'ORCHASTRATION_BUILD_DIR' (Join-Path $Root 'build')

$match = Select-String -Path (Join-Path $Root 'orchastration\__init__.py') -Pattern '^__version__ = "(.*)"$'
if (-not $match) { Fail "no __version__ in $Root\orchastration\__init__.py" }
$Version = $match.Matches[0].Groups[1].Value
$Arch = switch ($env:PROCESSOR_ARCHITECTURE) {
    'AMD64' { 'amd64' }
    'ARM64' { 'arm64' }
    default { "$env:PROCESSOR_ARCHITECTURE".ToLowerInvariant() }
}

New-Item -ItemType Directory -Force -Path $DistDir, $BuildDir | Out-Null
$DistDir = (Resolve-Path $DistDir).Path
$BuildDir = (Resolve-Path $BuildDir).Path
$Exe = Join-Path $DistDir 'orchastration.exe'

$current = $null
if (Test-Path $Exe) { $current = & $Exe --version 2>$null }
if ($current -ne "orchastration $Version") {
    Say "no dist\orchastration.exe of version ${Version}: building it"
    $env:ORCHASTRATION_DIST_DIR = $DistDir
    $env:ORCHASTRATION_BUILD_DIR = $BuildDir
    & (Join-Path $PSScriptRoot 'build-windows.ps1')
    if ($LASTEXITCODE -ne 0) { Fail "build-windows.ps1 failed (exit $LASTEXITCODE)" }
}

$Stage = Join-Path $BuildDir 'package'
if (Test-Path $Stage) { Remove-Item -Recurse -Force $Stage }
$PackageName = "orchastration-$Version-windows-$Arch"
$Tree = Join-Path $Stage $PackageName
New-Item -ItemType Directory -Force -Path (Join-Path $Tree 'completions') | Out-Null

Copy-Item $Exe (Join-Path $Tree 'orchastration.exe')
foreach ($doc in 'README.md', 'LICENSE', 'NOTICE', 'CHANGELOG.md') {
    $source = Join-Path $Root $doc
    if (Test-Path $source) { Copy-Item $source (Join-Path $Tree $doc) }
}
$install = Join-Path $Root 'docs\install.md'
if (Test-Path $install) { Copy-Item $install (Join-Path $Tree 'INSTALL.md') }

# Completion scripts, printed by the executable itself (its parser is the source of truth).
$completions = @{ 'powershell' = 'orchastration.ps1'; 'bash' = 'orchastration.bash'; 'zsh' = '_orchastration';
                  'fish' = 'orchastration.fish' }
foreach ($shell in $completions.Keys) {
    $text = & $Exe completion $shell | Out-String
    if ($LASTEXITCODE -ne 0) { Fail "orchastration.exe completion $shell failed (exit $LASTEXITCODE)" }
    Write-Utf8 (Join-Path $Tree "completions\$($completions[$shell])") $text
}

$Zip = Join-Path $DistDir "$PackageName.zip"
if (Test-Path $Zip) { Remove-Item -Force $Zip }
# ZipFile rather than Compress-Archive: Windows PowerShell 5.1's Compress-Archive writes '\' into entry
# names, which unzip elsewhere reads as part of the file name.
Add-Type -AssemblyName System.IO.Compression.FileSystem
[IO.Compression.ZipFile]::CreateFromDirectory($Tree, $Zip, [IO.Compression.CompressionLevel]::Optimal, $true)
Say "wrote $Zip"

# sha256sum format: `orchastration hash --check SHA256SUMS` verifies it.
$hash = (Get-FileHash -Algorithm SHA256 -Path $Zip).Hash.ToLowerInvariant()
Write-Utf8 (Join-Path $DistDir 'SHA256SUMS') "$hash  $PackageName.zip`n"
Say "wrote $DistDir\SHA256SUMS (check with: orchastration hash --check SHA256SUMS)"
