#!/usr/bin/env bash
# An independent Noise implementation against serve: dissononce_client.py (python3-dissononce)
# completes the handshake with a relay started here and exchanges a sealed line with it; the
# relay must log the join, the line and the leave. Exit 77 (ctest: skipped), saying why, where
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
"$udpchat" probe --wait 5s --quiet --known-servers "$work/known" \
  "127.0.0.1:$(until [ -s "$work/port" ]; do sleep 0.05; done; cat "$work/port")"
/usr/bin/python3 "$here/dissononce_client.py" 127.0.0.1 "$(cat "$work/port")"
kill -TERM "$serve"
wait "$serve"
grep -q 'joined .*nick=dissononce' "$work/serve.log" || { echo "FAIL: no join logged"; exit 1; }
grep -q 'left .*nick=dissononce' "$work/serve.log" || { echo "FAIL: no sealed quit logged"; exit 1; }
grep -q 'totals .* lines=1 ' "$work/serve.log" || { echo "FAIL: the line was not relayed once"; exit 1; }
echo "dissononce: a handshake and a sealed line with serve, both ways"
