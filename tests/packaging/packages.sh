#!/usr/bin/env bash
# cpack on a release build makes the .tar.gz and the .deb; both hold LICENSE, THIRD-PARTY-NOTICES,
# the man page and a stripped binary, the .deb also the systemd unit. As root (CI), the .deb is
# installed with dpkg, `udpchat --version` must start with the CMake version, and the package is
# removed again. Exit 77 (skipped) without cpack or dpkg-deb.
# Usage: tests/packaging/packages.sh CPACK BUILD_DIR VERSION
set -euo pipefail
cpack=$1 build=$2 version=$3
for tool in "$cpack" dpkg-deb readelf; do
  command -v "$tool" >/dev/null || { echo "SKIPPED: $tool is not installed"; exit 77; }
done
work=$(mktemp -d)
installed=false
cleanup() {
  if $installed; then dpkg -r udpchat >/dev/null || echo "packages: dpkg -r udpchat failed" >&2; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$cpack" --config "$build/CPackConfig.cmake" -B "$work" >"$work/cpack.log" 2>&1 ||
  { cat "$work/cpack.log"; fail "cpack failed"; }
tgz=$(find "$work" -maxdepth 1 -name "udpchat-$version-linux-*.tar.gz")
deb=$(find "$work" -maxdepth 1 -name "udpchat_${version}_*.deb")
[ -n "$tgz" ] || fail "no udpchat-$version-linux-<arch>.tar.gz in: $(ls "$work")"
[ -n "$deb" ] || fail "no udpchat_${version}_<arch>.deb in: $(ls "$work")"

# expect_files LISTING NAME...: every NAME is a path ending of some line of LISTING.
expect_files() {
  local listing=$1 name
  shift
  for name in "$@"; do
    grep -Eq "(^|/)$name\$" "$listing" || { cat "$listing"; fail "$(basename "$listing"): no $name"; }
  done
}
top=$(basename "$tgz" .tar.gz)
tar -tzf "$tgz" >"$work/tgz.txt"
expect_files "$work/tgz.txt" "$top/bin/udpchat" "$top/share/man/man1/udpchat.1" \
  "$top/share/doc/udpchat/LICENSE" "$top/share/doc/udpchat/THIRD-PARTY-NOTICES"
if grep -q "udpchat.service" "$work/tgz.txt"; then
  fail "the tarball holds the systemd unit, which names /usr/bin/udpchat"
fi
dpkg-deb --contents "$deb" | awk '{print $NF}' >"$work/deb.txt"
expect_files "$work/deb.txt" "usr/bin/udpchat" "usr/share/man/man1/udpchat.1" \
  "usr/share/doc/udpchat/LICENSE" "usr/share/doc/udpchat/THIRD-PARTY-NOTICES" \
  "usr/lib/systemd/system/udpchat.service"
dpkg-deb --field "$deb" Package Version Architecture Depends

# The man page carries the CMake version, not a hard-coded one.
mkdir -p "$work/tgz" "$work/deb"
tar -xzf "$tgz" -C "$work/tgz"
dpkg-deb --extract "$deb" "$work/deb"
grep -q "^\.TH UDPCHAT 1 .*\"udpchat $version\"" "$work/tgz/$top/share/man/man1/udpchat.1" ||
  fail "the man page's .TH line does not name udpchat $version"
for binary in "$work/tgz/$top/bin/udpchat" "$work/deb/usr/bin/udpchat"; do
  sections=$(readelf -S --wide "$binary")
  if grep -Eq '\.symtab|\.debug_' <<<"$sections"; then
    fail "$binary is not stripped: $(grep -Eo '\.(symtab|debug_[a-z_]+)' <<<"$sections" | tr '\n' ' ')"
  fi
done
echo "packages: $(basename "$tgz") and $(basename "$deb") hold LICENSE, notices, man page, stripped binary; the .deb the unit"

if [ "$(id -u)" -ne 0 ]; then
  echo "packages: not root: dpkg -i of the .deb not tried"
  exit 0
fi
if dpkg-query -W -f='${Status}' udpchat 2>/dev/null | grep -q "install ok installed"; then
  echo "packages: a udpchat package is already installed here: dpkg -i not tried, to leave it alone"
  exit 0
fi
# Another dpkg run (apt in a parallel job) holds the lock for a while: wait for it.
for _ in $(seq 60); do
  if dpkg -i "$deb" >"$work/dpkg.log" 2>&1; then installed=true; break; fi
  grep -q "lock" "$work/dpkg.log" || { cat "$work/dpkg.log"; fail "dpkg -i $(basename "$deb") failed"; }
  sleep 2
done
$installed || { cat "$work/dpkg.log"; fail "dpkg stayed locked"; }
reported=$(/usr/bin/udpchat --version)
[[ "$reported" == "$version"* ]] || fail "installed udpchat --version says '$reported', not $version..."
[ -f /usr/lib/systemd/system/udpchat.service ] || fail "the unit was not installed"
echo "packages: dpkg -i ok, /usr/bin/udpchat --version: $reported"
