<#
.SYNOPSIS
Build dist\orchastration.exe: a single-file Windows executable that needs no Python on the target machine.

.DESCRIPTION
The same steps as scripts/build-linux.sh. With -OneDir: dist\orchastration-onedir\ instead, an executable
beside an _internal\ folder, which starts about 3x faster (nothing to unpack at each start). Needs only Python 3.11+ on the build machine (the py launcher,
python on PATH, or $env:PYTHON). Creates a build venv, pip-installs the project (not editable, so the
built-in templates are package data) and PyInstaller into it, and freezes scripts\pyinstaller\entry.py
with scripts\pyinstaller\orchastration.spec.

Environment (all optional):
  PYTHON                     interpreter that creates the build venv   (default: py -3, else python)
  ORCHASTRATION_DIST_DIR     where the executable goes                  (default: <repo>\dist)
  ORCHASTRATION_BUILD_DIR    PyInstaller work files                     (default: <repo>\build)
  ORCHASTRATION_BUILD_VENV   the build venv, reused when it exists      (default: $ORCHASTRATION_BUILD_DIR\venv)
  PYINSTALLER_SPEC           PyInstaller requirement                    (default: pyinstaller>=6.10,<7)

.EXAMPLE
.\scripts\build-windows.ps1
.\dist\orchastration.exe --help
#>
[CmdletBinding()]
param(
    # Build the one-folder variant (dist\orchastration-onedir\) instead of the single file.
    [switch]$OneDir
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$Name = 'build-windows.ps1'

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

# Native commands do not stop the script on failure (Windows PowerShell 5.1): check every exit code.
function Invoke-Native([string]$What, [string]$Program, [string[]]$Arguments) {
    & $Program @Arguments
    if ($LASTEXITCODE -ne 0) { Fail "$What failed (exit $LASTEXITCODE): $Program $($Arguments -join ' ')" }
}

$Root = (Resolve-Path (Join-Path $PSScriptRoot '..')).Path
$DistDir = Get-Setting 'ORCHASTRATION_DIST_DIR' (Join-Path $Root 'dist')
$BuildDir = Get-Setting 'ORCHASTRATION_BUILD_DIR' (Join-Path $Root 'build')
$PyInstallerSpec = Get-Setting 'PYINSTALLER_SPEC' 'pyinstaller>=6.10,<7'

# The version has one source of truth: orchastration\__init__.py.
$match = Select-String -Path (Join-Path $Root 'orchastration\__init__.py') -Pattern '^__version__ = "(.*)"$'
if (-not $match) { Fail "no __version__ in $Root\orchastration\__init__.py" }
$Version = $match.Matches[0].Groups[1].Value

# A concrete interpreter path, from $env:PYTHON, the py launcher, or python on PATH.
$Python = Get-Setting 'PYTHON' ''
$probe = 'import sys; print(sys.executable) if sys.version_info >= (3, 11) else sys.exit(3)'
if ($Python) {
    $Python = & $Python -c $probe
} elseif (Get-Command py -ErrorAction SilentlyContinue) {
    $Python = & py -3 -c $probe
} elseif (Get-Command python -ErrorAction SilentlyContinue) {
    $Python = & python -c $probe
} else {
    Fail 'Python not found: install Python 3.11+ (python.org or the py launcher) or set $env:PYTHON'
}
if ($LASTEXITCODE -ne 0 -or -not $Python) { Fail 'Python 3.11+ is needed to build (set $env:PYTHON to one)' }

$started = Get-Date
New-Item -ItemType Directory -Force -Path $DistDir, $BuildDir | Out-Null
$DistDir = (Resolve-Path $DistDir).Path
$BuildDir = (Resolve-Path $BuildDir).Path
$Venv = Get-Setting 'ORCHASTRATION_BUILD_VENV' (Join-Path $BuildDir 'venv')
$VenvPython = Join-Path $Venv 'Scripts\python.exe'

$venvWorks = $false
if (Test-Path $VenvPython) {
    & $VenvPython -c pass 2>$null
    $venvWorks = ($LASTEXITCODE -eq 0)
}
if (-not $venvWorks) {
    Say "creating build venv $Venv"
    Invoke-Native 'creating the build venv' $Python @('-m', 'venv', '--clear', $Venv)
}
$pip = @('-m', 'pip', '--disable-pip-version-check', '--quiet', 'install')
Say "installing $PyInstallerSpec and orchastration $Version into the build venv"
Invoke-Native 'installing PyInstaller' $VenvPython ($pip + @($PyInstallerSpec))
# The project as a wheel (not editable): templates land in orchastration\templates\ as in a pip install.
# --force-reinstall of the project alone: the version number does not change between two builds.
Invoke-Native 'installing the project' $VenvPython ($pip + @($Root))
Invoke-Native 'reinstalling the project' $VenvPython ($pip + @('--force-reinstall', '--no-deps', $Root))

$Bundle = if ($OneDir) { 'onedir' } else { 'onefile' }
Say "freezing with PyInstaller ($Bundle, into $DistDir)"
# From the build dir, so the source tree's orchastration\ never shadows the installed package.
Push-Location $BuildDir
$env:ORCHASTRATION_BUNDLE = $Bundle
try {
    Invoke-Native 'PyInstaller' (Join-Path $Venv 'Scripts\pyinstaller.exe') @(
        '--noconfirm', '--clean', '--log-level', 'WARN',
        '--distpath', $DistDir, '--workpath', (Join-Path $BuildDir "pyinstaller-$Bundle"),
        (Join-Path $Root 'scripts\pyinstaller\orchastration.spec'))
} finally {
    Remove-Item Env:ORCHASTRATION_BUNDLE -ErrorAction SilentlyContinue
    Pop-Location
}

if ($OneDir) {
    $Artifact = Join-Path $DistDir 'orchastration-onedir'
    $Exe = Join-Path $Artifact 'orchastration.exe'
} else {
    $Artifact = Join-Path $DistDir 'orchastration.exe'
    $Exe = $Artifact
}
$got = & $Exe --version
if ($LASTEXITCODE -ne 0 -or $got -ne "orchastration $Version") {
    Fail "built executable says '$got', expected 'orchastration $Version'"
}
$bytes = (Get-ChildItem -Path $Artifact -Recurse -File | Measure-Object -Property Length -Sum).Sum
$sizeKiB = [math]::Round($bytes / 1KB)
$seconds = [math]::Round(((Get-Date) - $started).TotalSeconds)
Say "built $Artifact ($got, $sizeKiB KiB) in ${seconds}s"
