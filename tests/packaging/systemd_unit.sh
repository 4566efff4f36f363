#!/usr/bin/env bash
# packaging/udpchat.service passes `systemd-analyze verify` (with ExecStart pointing at the built
# binary, and its man page where Documentation= looks) and keeps its sandboxing: the offline
# exposure score stays at most 2.0 ("OK"). Exit 77 (skipped) without systemd-analyze.
# Usage: tests/packaging/systemd_unit.sh UNIT UDPCHAT MANPAGE
set -euo pipefail
unit=$1 udpchat=$2 manpage=$3
command -v systemd-analyze >/dev/null ||
  { echo "SKIPPED: systemd-analyze is not installed (Debian: apt-get install systemd)"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/man/man1"
cp "$manpage" "$work/man/man1/udpchat.1"
sed "s|/usr/bin/udpchat|$udpchat|g" "$unit" >"$work/udpchat.service"
grep -q "^ExecStart=$udpchat serve --bind \${UDPCHAT_BIND} \$UDPCHAT_ARGS$" "$work/udpchat.service" ||
  { echo "FAIL: ExecStart does not run serve with --bind \${UDPCHAT_BIND} \$UDPCHAT_ARGS"; exit 1; }
man_check=(--man=yes)
command -v man >/dev/null || man_check=(--man=no)
MANPATH=$work/man systemd-analyze verify "${man_check[@]}" "$work/udpchat.service"
systemd-analyze security --offline=yes --threshold=20 "$work/udpchat.service" | tail -n 1
echo "systemd unit: verified"
