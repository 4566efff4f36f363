#!/usr/bin/env bash
# Sealed sessions against forged sources: forged_sources.py inside an unprivileged user and
# network namespace (raw sockets and a packet capture need CAP_NET_RAW, which the namespace
# gives). Exit 77 (ctest: skipped) where namespaces are not available, saying so.
# Usage: forged_sources.sh UDPCHAT_BINARY
set -euo pipefail
udpchat=$1
here=$(dirname "$0")
# shellcheck source=tests/netns/lib.sh
source "$here/lib.sh"
unshare -rn true 2>/dev/null || skip "unprivileged user and network namespaces are not permitted here"
command -v python3 >/dev/null || skip "python3 is not installed"
exec unshare -rn python3 "$here/forged_sources.py" "$udpchat"
