#!/usr/bin/env bash
# Package the Linux executable: dist/orchastration-<version>-linux-<arch>.tar.gz (the single-file
# dist/orchastration, licence, completions) and, where dpkg-deb exists,
# dist/orchastration_<version>_<arch>.deb installing /usr/bin/orchastration (a symlink into the faster
# one-folder build in /usr/lib/orchastration), the licence in /usr/share/doc/orchastration and shell
# completions. Also writes dist/SHA256SUMS for both.
#
# Builds dist/orchastration first (scripts/build-linux.sh) when it is missing or reports another version,
# and the one-folder variant for the .deb (build-linux.sh --onedir, into the build dir) when stale.
#
# Environment (all optional):
#   ORCHASTRATION_DIST_DIR     where the executable is and the packages go    (default: <repo>/dist)
#   ORCHASTRATION_BUILD_DIR    staging files                                   (default: <repo>/build)
#   SOURCE_DATE_EPOCH          timestamp of the archived files (reproducible)  (default: last commit, else now)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIST_DIR="${ORCHASTRATION_DIST_DIR:-$ROOT/dist}"
BUILD_DIR="${ORCHASTRATION_BUILD_DIR:-$ROOT/build}"

case "${1:-}" in
  -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  "") ;;
  *) echo "package-linux.sh: error: unexpected argument '$1' (see --help)" >&2; exit 2 ;;
esac

say() { echo "package-linux.sh: $*" >&2; }
die() { echo "package-linux.sh: error: $*" >&2; exit 2; }

VERSION="$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$ROOT/orchastration/__init__.py")"
[ -n "$VERSION" ] || die "no __version__ in $ROOT/orchastration/__init__.py"
case "$(uname -m)" in
  x86_64|amd64) ARCH=amd64 ;;
  aarch64|arm64) ARCH=arm64 ;;
  *) ARCH="$(uname -m)" ;;
esac
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH="$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null || date +%s)"
fi
export SOURCE_DATE_EPOCH

mkdir -p "$DIST_DIR" "$BUILD_DIR"
DIST_DIR="$(cd "$DIST_DIR" && pwd)"
BUILD_DIR="$(cd "$BUILD_DIR" && pwd)"
BINARY="$DIST_DIR/orchastration"
if [ ! -x "$BINARY" ] || [ "$("$BINARY" --version 2>/dev/null)" != "orchastration $VERSION" ]; then
  say "no dist/orchastration of version $VERSION: building it"
  ORCHASTRATION_DIST_DIR="$DIST_DIR" ORCHASTRATION_BUILD_DIR="$BUILD_DIR" "$ROOT/scripts/build-linux.sh"
fi

STAGE="$BUILD_DIR/package"
rm -rf "$STAGE"
mkdir -p "$STAGE"

# Shell completion scripts, printed by the binary itself (its parser is the source of truth).
COMPLETIONS="$STAGE/completions"
mkdir -p "$COMPLETIONS"
"$BINARY" completion bash >"$COMPLETIONS/orchastration.bash"
"$BINARY" completion zsh >"$COMPLETIONS/_orchastration"
"$BINARY" completion fish >"$COMPLETIONS/orchastration.fish"
"$BINARY" completion powershell >"$COMPLETIONS/orchastration.ps1"

# Files owned by root, sorted, dated SOURCE_DATE_EPOCH: the layout does not depend on who built it when.
TAR_FLAGS=(--owner=0 --group=0 --numeric-owner --sort=name "--mtime=@$SOURCE_DATE_EPOCH")

# --- tar.gz ----------------------------------------------------------------------------------------
NAME="orchastration-$VERSION-linux-$ARCH"
TREE="$STAGE/$NAME"
mkdir -p "$TREE"
install -m 0755 "$BINARY" "$TREE/orchastration"
for doc in README.md LICENSE NOTICE CHANGELOG.md; do
  [ -f "$ROOT/$doc" ] && install -m 0644 "$ROOT/$doc" "$TREE/$doc"
done
[ -f "$ROOT/docs/install.md" ] && install -m 0644 "$ROOT/docs/install.md" "$TREE/INSTALL.md"
mkdir -p "$TREE/completions"
install -m 0644 "$COMPLETIONS"/* "$TREE/completions/"
TARBALL="$DIST_DIR/$NAME.tar.gz"
tar "${TAR_FLAGS[@]}" -C "$STAGE" -cf - "$NAME" | gzip -9n >"$TARBALL"
say "wrote $TARBALL"
ARTIFACTS=("$(basename "$TARBALL")")

# --- .deb ------------------------------------------------------------------------------------------
# The .deb installs the one-folder build (/usr/lib/orchastration/, /usr/bin/orchastration a relative
# symlink into it): it starts about 3x faster than the one-file binary, which unpacks itself at each start.
if command -v dpkg-deb >/dev/null 2>&1; then
  ONEDIR_DIST="$BUILD_DIR/onedir"
  ONEDIR="$ONEDIR_DIST/orchastration-onedir"
  if [ ! -x "$ONEDIR/orchastration" ] || [ "$BINARY" -nt "$ONEDIR/orchastration" ] \
     || [ "$("$ONEDIR/orchastration" --version 2>/dev/null)" != "orchastration $VERSION" ]; then
    say "building the one-folder variant for the .deb"
    ORCHASTRATION_DIST_DIR="$ONEDIR_DIST" ORCHASTRATION_BUILD_DIR="$BUILD_DIR" "$ROOT/scripts/build-linux.sh" --onedir
  fi
  DEB_ROOT="$STAGE/deb"
  install -d -m 0755 "$DEB_ROOT/DEBIAN" "$DEB_ROOT/usr/bin" "$DEB_ROOT/usr/lib" "$DEB_ROOT/usr/share/doc/orchastration"
  cp -R "$ONEDIR" "$DEB_ROOT/usr/lib/orchastration"
  chmod -R u=rwX,go=rX "$DEB_ROOT/usr/lib/orchastration"
  ln -s ../lib/orchastration/orchastration "$DEB_ROOT/usr/bin/orchastration"
  {
    echo "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"
    echo "Upstream-Name: orchastration"
    echo ""
    echo "Files: *"
    echo "Copyright: 2026 the orchastration developers"
    echo "License: AGPL-3.0-only"
    echo " The full text of the licence follows the bundled-library notice below."
    echo ""
    sed 's/^$/./; s/^/ /' "$ROOT/NOTICE"
    echo ""
    echo "License: AGPL-3.0-only"
    sed 's/^$/./; s/^/ /' "$ROOT/LICENSE"
  } >"$DEB_ROOT/usr/share/doc/orchastration/copyright"
  install -m 0644 "$ROOT/LICENSE" "$ROOT/NOTICE" "$DEB_ROOT/usr/share/doc/orchastration/"
  [ -f "$ROOT/README.md" ] && install -m 0644 "$ROOT/README.md" "$DEB_ROOT/usr/share/doc/orchastration/"
  install -D -m 0644 "$COMPLETIONS/orchastration.bash" "$DEB_ROOT/usr/share/bash-completion/completions/orchastration"
  install -D -m 0644 "$COMPLETIONS/_orchastration" "$DEB_ROOT/usr/share/zsh/vendor-completions/_orchastration"
  install -D -m 0644 "$COMPLETIONS/orchastration.fish" "$DEB_ROOT/usr/share/fish/vendor_completions.d/orchastration.fish"
  find "$DEB_ROOT" -type d -exec chmod 0755 {} +
  installed_kb=$(du -sk --exclude=DEBIAN "$DEB_ROOT" | cut -f1)
  # The program needs the glibc its bundled libraries were linked against (that of the build machine):
  # the newest GLIBC_x.y symbol version they reference, so apt refuses too old a system.
  glibc="$(grep -raoh 'GLIBC_2\.[0-9][0-9]*' "$ONEDIR" | sed 's/^GLIBC_//' | sort -uV | tail -n 1)"
  DEPENDS="libc6"
  if [ -n "$glibc" ]; then
    DEPENDS="libc6 (>= $glibc)"
  else
    say "warning: could not read the glibc version the program needs; the .deb depends on any libc6"
  fi
  cat >"$DEB_ROOT/DEBIAN/control" <<CONTROL
Package: orchastration
Version: $VERSION
Architecture: $ARCH
Maintainer: orchastration developers <orchastration@localhost>
Installed-Size: $installed_kb
Depends: $DEPENDS
Recommends: git
Suggests: gh
Section: devel
Priority: optional
Description: deterministic, auditable local jobs, tasks and agent pipelines
 orchastration runs user-defined jobs and workflow tasks on one machine with
 make-like incremental reruns (built on doit), and runs orchestrations:
 pipelines of agents (Planner, Builder, Reviewer, Doc), sequential or in
 parallel groups. This package ships a self-contained executable; it needs
 no Python installation.
CONTROL
  DEB="$DIST_DIR/orchastration_${VERSION}_${ARCH}.deb"
  dpkg-deb --root-owner-group -Zxz --build "$DEB_ROOT" "$DEB" >/dev/null
  say "wrote $DEB"
  ARTIFACTS+=("$(basename "$DEB")")
else
  say "dpkg-deb not found: skipping the .deb"
fi

(cd "$DIST_DIR" && sha256sum "${ARTIFACTS[@]}" >SHA256SUMS)
say "wrote $DIST_DIR/SHA256SUMS (check with: orchastration hash --check SHA256SUMS)"
