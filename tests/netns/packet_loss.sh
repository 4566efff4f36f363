#!/usr/bin/env bash
# Packet loss: inside an unprivileged user and network namespace, nftables drops 10% of the
# datagrams arriving at the relay's port on lo. 50 members heartbeating every 250 ms with a 2 s
# timeout, one sending for 20 s: no member may be expired falsely, and 90% +- 3% of the lines
# must be delivered (the loss is on the way in; acks on the way out are not dropped).
# Only expiries before the bench leaves are false: a `quit` lost to the 10% leaves its member to
# be expired, rightly, if the bench's exit (slow under ASan and load) takes longer than 2 s.
# Exit 77 (ctest: skipped) where namespaces or nft are not available, saying so.
# Usage: packet_loss.sh UDPCHAT_BINARY
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
  lossy_loopback "udp dport $port"
  # No stale drops: on a busy CI machine they would add to the loss this test measures.
  "$udpchat" serve --bind 127.0.0.1:$port --hb-timeout 2s --log-format json \
    --rate-limit off --cookie-rate-limit off --max-queue-delay off >/dev/null 2>"$work/serve.log" &
  serve=$!
  "$udpchat" probe --wait 5s --quiet 127.0.0.1:$port
  # This test judges the loss itself (90% must arrive), not --max-loss.
  "$udpchat" bench 127.0.0.1:$port --clients 50 --senders 1 --rate 200 --duration 20s \
    --warmup 500ms --hb-interval 250ms --max-loss 100 --json >"$work/bench.json"
  kill $serve
  wait $serve || true
' _ "$udpchat" "$work" "$lib"

# The relay's log times are ISO 8601 UTC with milliseconds: they compare as strings.
left_at=$(grep -m1 '"event":"left"' "$work/serve.log" | sed -E 's/.*"time":"([^"]+)".*/\1/' || true)
false_expiries() {
  { grep '"event":"expired"' "$work/serve.log" || true; } | while read -r line; do
    at=$(sed -E 's/.*"time":"([^"]+)".*/\1/' <<<"$line")
    if [ -z "$left_at" ] || [[ "$at" < "$left_at" ]]; then echo "$line"; fi
  done
}
expired=$(false_expiries | wc -l)
expired_after=$(( $(grep -c '"event":"expired"' "$work/serve.log" || true) - expired ))
read -r delivered expected < <(sed -E 's/.*"expected":([0-9]+),"delivered":([0-9]+).*/\2 \1/' "$work/bench.json")
percent=$(awk -v d="$delivered" -v e="$expected" 'BEGIN {printf "%.2f", 100 * d / e}')
echo "10% loss into the relay: $delivered of $expected deliveries ($percent%), $expired members expired" \
  "($expired_after after the bench left: their quit was lost)"
status=0
[ "$expired" -eq 0 ] || {
  echo "FAIL: members were expired despite heartbeats (the bench left at ${left_at:-never})"
  false_expiries
  status=1
}
awk -v p="$percent" 'BEGIN {exit !(p >= 87 && p <= 93)}' || {
  echo "FAIL: delivery outside 90% +- 3%"
  tail -n 3 "$work/serve.log"
  status=1
}
exit $status
