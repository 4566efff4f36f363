#!/usr/bin/env bash
# A private room across two nodes and a real nats-server, with a capture of lo:
# private_rooms.py inside an unprivileged user and network namespace (the capture needs
# CAP_NET_RAW, which the namespace gives). Exit 77 (ctest: skipped) where namespaces are not
# available, saying so.
# Usage: private_rooms.sh UDPCHAT_BINARY NATS_SERVER
set -euo pipefail
udpchat=$1
nats_server=$2
here=$(dirname "$0")
# shellcheck source=tests/netns/lib.sh
source "$here/lib.sh"
unshare -rn true 2>/dev/null || skip "unprivileged user and network namespaces are not permitted here"
command -v python3 >/dev/null || skip "python3 is not installed"
exec unshare -rn python3 "$here/private_rooms.py" "$udpchat" "$nats_server"
