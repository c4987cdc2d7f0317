#!/usr/bin/env bash
# Build dist/orchastration: a single-file Linux executable that needs no Python on the target machine.
# With --onedir: dist/orchastration-onedir/ instead, an executable beside an _internal/ folder, which
# starts about 3x faster because nothing is unpacked at each start (package-linux.sh puts it in the .deb).
#
# Needs only python3 (>= 3.11, with its shared libpython, as distribution and pyenv builds have) on the
# build machine. Creates a build venv, pip-installs the project (not editable, so the built-in
# templates are package data) and PyInstaller into it, and freezes scripts/pyinstaller/entry.py.
#
# Environment (all optional):
#   PYTHON                     interpreter that creates the build venv        (default: python3)
#   ORCHASTRATION_DIST_DIR     where the executable goes                       (default: <repo>/dist)
#   ORCHASTRATION_BUILD_DIR    PyInstaller work files                          (default: <repo>/build)
#   ORCHASTRATION_BUILD_VENV   the build venv, reused when it exists           (default: $ORCHASTRATION_BUILD_DIR/venv)
#   PYINSTALLER_SPEC           PyInstaller requirement                         (default: pyinstaller>=6.10,<7)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
DIST_DIR="${ORCHASTRATION_DIST_DIR:-$ROOT/dist}"
BUILD_DIR="${ORCHASTRATION_BUILD_DIR:-$ROOT/build}"
VENV="${ORCHASTRATION_BUILD_VENV:-$BUILD_DIR/venv}"
PYINSTALLER_SPEC="${PYINSTALLER_SPEC:-pyinstaller>=6.10,<7}"

BUNDLE=onefile
case "${1:-}" in
  -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  --onedir) BUNDLE=onedir ;;
  "") ;;
  *) echo "build-linux.sh: error: unexpected argument '$1' (see --help)" >&2; exit 2 ;;
esac
[ $# -le 1 ] || { echo "build-linux.sh: error: unexpected argument '$2' (see --help)" >&2; exit 2; }

say() { echo "build-linux.sh: $*" >&2; }
die() { echo "build-linux.sh: error: $*" >&2; exit 2; }

command -v "$PYTHON" >/dev/null 2>&1 || die "'$PYTHON' not found: install Python 3.11+ or set PYTHON"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || die "'$PYTHON' is $("$PYTHON" -c 'import sys; print(sys.version.split()[0])'); Python 3.11+ is needed"
VERSION="$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$ROOT/orchastration/__init__.py")"
[ -n "$VERSION" ] || die "no __version__ in $ROOT/orchastration/__init__.py"

start=$(date +%s)
mkdir -p "$DIST_DIR" "$BUILD_DIR"
DIST_DIR="$(cd "$DIST_DIR" && pwd)"
BUILD_DIR="$(cd "$BUILD_DIR" && pwd)"

if ! "$VENV/bin/python" -c pass >/dev/null 2>&1; then
  say "creating build venv $VENV"
  "$PYTHON" -m venv --clear "$VENV" \
    || die "'$PYTHON -m venv' failed (on Debian and Ubuntu: apt install python3-venv)"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check --quiet)
say "installing $PYINSTALLER_SPEC and orchastration $VERSION into the build venv"
"${PIP[@]}" install "$PYINSTALLER_SPEC"
# The project as a wheel (not editable): templates land in orchastration/templates/ as in a pip install.
# --force-reinstall of the project alone: the version number does not change between two builds.
"${PIP[@]}" install "$ROOT"
"${PIP[@]}" install --force-reinstall --no-deps "$ROOT"

say "freezing with PyInstaller ($BUNDLE, into $DIST_DIR)"
# From the build dir, so the source tree's orchastration/ never shadows the installed package.
(cd "$BUILD_DIR" && ORCHASTRATION_BUNDLE="$BUNDLE" "$VENV/bin/pyinstaller" --noconfirm --clean --log-level WARN \
  --distpath "$DIST_DIR" --workpath "$BUILD_DIR/pyinstaller-$BUNDLE" "$ROOT/scripts/pyinstaller/orchastration.spec")

if [ "$BUNDLE" = onedir ]; then
  ARTIFACT="$DIST_DIR/orchastration-onedir"
  BINARY="$ARTIFACT/orchastration"
else
  ARTIFACT="$DIST_DIR/orchastration"
  BINARY="$ARTIFACT"
fi
got="$("$BINARY" --version)"
[ "$got" = "orchastration $VERSION" ] || die "built binary says '$got', expected 'orchastration $VERSION'"
size=$(du -sk "$ARTIFACT" | cut -f1)
say "built $ARTIFACT ($got, ${size} KiB) in $(( $(date +%s) - start ))s"
