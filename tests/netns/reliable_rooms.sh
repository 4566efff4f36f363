#!/usr/bin/env bash
# Reliable rooms: inside an unprivileged user and network namespace, nftables drops 10% of all
# UDP datagrams on lo, both ways (to the relay and from it). One piped sender posts 500 lines to
# three listening members. With repair (the default) every member must show every line exactly
# once and in order, no member may be expired, and the sender must exit 0. The same run with
# --no-repair follows, and its loss is printed beside, so that the difference shows.
# Exit 77 (ctest: skipped) where namespaces or nft are not available, saying so.
# Usage: reliable_rooms.sh UDPCHAT_BINARY
set -euo pipefail
udpchat=$1
lib=$(dirname "$0")/lib.sh
# shellcheck source=tests/netns/lib.sh
source "$lib"
netns_skip_unless_possible

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# shellcheck disable=SC2016 # expanded inside the namespace's shell
unshare -rn bash -c '
  set -euo pipefail
  udpchat=$1 work=$2 port=9998
  # shellcheck source=tests/netns/lib.sh
  source "$3"
  lossy_loopback "meta l4proto udp"

  # One run: a relay, three listeners, one sender. $1 names it, $2 is how long the sender
  # lingers for its echoes and the members wait for lines; the rest are chat options.
  run() {
    local name=$1 wait=$2
    shift 2
    "$udpchat" serve --bind 127.0.0.1:$port --log-format json \
      --rate-limit off --cookie-rate-limit off >/dev/null 2>"$work/$name.serve.log" &
    local serve=$!
    "$udpchat" probe --wait 5s --quiet 127.0.0.1:$port
    local listeners=()
    for m in 1 2 3; do
      "$udpchat" chat 127.0.0.1:$port --json --listen --nick "m$m" --hb-interval 1s "$@" \
        >"$work/$name.m$m.out" 2>/dev/null &
      listeners+=($!)
    done
    for m in 1 2 3; do
      for _ in $(seq 100); do
        grep -q "\"type\":\"joined\"" "$work/$name.m$m.out" && break
        sleep 0.1
      done
    done
    local status=0
    seq 1 500 | sed "s/^/line /" |
      timeout 120 "$udpchat" chat 127.0.0.1:$port --nick sender --hb-interval 1s --linger "${wait}s" "$@" \
        >/dev/null 2>"$work/$name.sender.err" || status=$?
    echo "$status" >"$work/$name.sender.status"
    # Members repair what they lack within a few heartbeats; wait for all 500, or $wait s.
    for _ in $(seq $((wait * 10))); do
      local done=1
      for m in 1 2 3; do
        [ "$(grep -c "\"type\":\"message\"" "$work/$name.m$m.out")" -ge 500 ] || done=0
      done
      [ "$done" = 1 ] && break
      sleep 0.1
    done
    kill -TERM "${listeners[@]}" 2>/dev/null || true
    wait "${listeners[@]}" 2>/dev/null || true
    kill $serve
    wait $serve || true
  }
  run repair 20
  run plain 5 --no-repair
' _ "$udpchat" "$work" "$lib"

status=0
expected=$(seq 1 500 | sed 's/^/line /')
for name in repair plain; do
  for m in 1 2 3; do
    got=$(grep '"type":"message"' "$work/$name.m$m.out" | sed -E 's/.*"text":"([^"]*)".*/\1/' ||
          true)
    count=$(printf '%s\n' "$got" | grep -c . || true)
    unique=$(printf '%s\n' "$got" | grep . | sort -u | wc -l)
    missed=$({ grep -o '"type":"missed","count":[0-9]*' "$work/$name.m$m.out" || true; } |
             sed 's/.*://' | awk '{s += $1} END {print s + 0}')
    echo "$name: member m$m showed $count of 500 lines ($unique distinct), $missed said missed"
    if [ "$name" = repair ] && [ "$got" != "$expected" ]; then
      echo "FAIL: with repair, member m$m did not show every line exactly once and in order"
      status=1
    fi
  done
  expired=$(grep -c '"event":"expired"' "$work/$name.serve.log" || true)
  echo "$name: sender exit $(cat "$work/$name.sender.status"), $expired members expired"
  if [ "$name" = repair ]; then
    [ "$expired" -eq 0 ] || { echo "FAIL: members were expired despite heartbeats"; status=1; }
    [ "$(cat "$work/$name.sender.status")" = 0 ] ||
      { echo "FAIL: the sender did not exit 0:"; cat "$work/$name.sender.err"; status=1; }
  fi
done
exit $status
