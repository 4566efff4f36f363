#!/usr/bin/env bash
# The smoke test every platform's CI runs on a built binary: serve in the background, probe
# --wait until it answers, a piped chat line seen by a second client in --json mode, shutdown,
# and `end` received. Loopback only. Usage: scripts/ci-smoke.sh [path/to/udpchat]
# Windows (Git Bash) cannot send SIGTERM to a native process: there serve stops itself with
# --duration, which takes the same shutdown path.
set -euo pipefail
udpchat=${1:-build/release/src/udpchat}
work=$(mktemp -d)
windows=false
case "$(uname -s)" in MINGW* | MSYS* | CYGWIN*) windows=true ;; esac
serve_args=(--bind 127.0.0.1:0 --port-file "$work/port")
if $windows; then serve_args+=(--duration 20s); fi
serve_pid=""
listener_pid=""
cleanup() {
  [ -n "$listener_pid" ] && kill "$listener_pid" 2>/dev/null
  [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "ci-smoke: FAIL: $*" >&2; for f in "$work"/*; do echo "--- $f" >&2; cat "$f" >&2; done; exit 1; }

"$udpchat" --version
"$udpchat" serve "${serve_args[@]}" 2>"$work/serve.log" >"$work/serve.out" &
serve_pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
[ -s "$work/port" ] || fail "serve did not write its port file"
address=127.0.0.1:$(cat "$work/port")
"$udpchat" probe --wait 10s "$address" || fail "probe did not get an answer"

# The listener only receives, until the server's `end`.
"$udpchat" chat --json --listen --nick listener "$address" >"$work/listener.out" 2>&1 &
listener_pid=$!
for _ in $(seq 100); do grep -q '"type":"joined"' "$work/listener.out" && break; sleep 0.05; done
grep -q '"type":"joined"' "$work/listener.out" || fail "the listener did not join"

echo "deploy done" | "$udpchat" chat --nick ci "$address" >"$work/poster.out" 2>&1 ||
  fail "the piped chat line was not acknowledged"
for _ in $(seq 100); do grep -q '"text":"deploy done"' "$work/listener.out" && break; sleep 0.05; done
grep -q '"nick":"ci","text":"deploy done"' "$work/listener.out" || fail "the listener did not see the line"

if $windows; then
  wait "$serve_pid" || fail "serve did not exit 0 at the end of --duration"
else
  kill -TERM "$serve_pid"
  wait "$serve_pid" || fail "serve did not exit 0 on SIGTERM"
fi
serve_pid=""
wait "$listener_pid" || fail "the listener did not exit 0 on end"
listener_pid=""
grep -q '"type":"end"' "$work/listener.out" || fail "the listener did not receive end"
echo "ci-smoke: ok (serve, probe --wait, piped chat seen by a --json client, shutdown, end)"
