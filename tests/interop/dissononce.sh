#!/usr/bin/env bash
# An independent Noise implementation against serve: dissononce_client.py (python3-dissononce)
# completes the handshake with a relay started here and exchanges a sealed line with it, in
# suite 1 (ChaChaPoly) and in suite 2 (AESGCM, where this CPU has AES instructions); the relay
# must log each join, line and leave. Exit 77 (ctest: skipped), saying why, where
# dissononce is not installed.
# Usage: dissononce.sh UDPCHAT_BINARY
set -euo pipefail
udpchat=$1
here=$(dirname "$0")
/usr/bin/python3 -c 'import dissononce' 2>/dev/null ||
  { echo "SKIPPED: python3-dissononce is not installed"; exit 77; }
work=$(mktemp -d)
trap 'kill "$serve" 2>/dev/null || true; rm -rf "$work"' EXIT
"$udpchat" serve --bind 127.0.0.1:0 --port-file "$work/port" --key-file "$work/relay.key" \
  2>"$work/serve.log" &
serve=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
[ -s "$work/port" ] || { echo "FAIL: serve did not start"; cat "$work/serve.log"; exit 1; }
"$udpchat" probe --wait 5s --quiet --known-servers "$work/known" "127.0.0.1:$(cat "$work/port")"
/usr/bin/python3 "$here/dissononce_client.py" 127.0.0.1 "$(cat "$work/port")" 1
suites=1
if /usr/bin/python3 "$here/dissononce_client.py" 127.0.0.1 "$(cat "$work/port")" 2; then
  suites=2
else
  status=$?
  [ "$status" -eq 77 ] || exit "$status"
  grep -q ' aes ' /proc/cpuinfo && { echo "FAIL: this CPU has AES, the relay must offer suite 2"; exit 1; }
fi
kill -TERM "$serve"
wait "$serve"
[ "$(grep -c 'joined .*nick=dissononce' "$work/serve.log")" -eq "$suites" ] ||
  { echo "FAIL: not $suites joins logged"; exit 1; }
[ "$(grep -c 'left .*nick=dissononce' "$work/serve.log")" -eq "$suites" ] ||
  { echo "FAIL: not $suites sealed quits logged"; exit 1; }
grep -q "totals .* lines=$suites " "$work/serve.log" ||
  { echo "FAIL: the lines were not relayed once each"; exit 1; }
echo "dissononce: a handshake and a sealed line with serve, both ways, in $suites suite(s)"
