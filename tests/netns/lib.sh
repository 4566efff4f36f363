# Sourced by the netns tests. Outside the namespace, netns_skip_unless_possible exits 77
# (ctest: skipped), saying why, where namespaces or nft are not available; inside it,
# lossy_loopback brings lo up and drops 10% of the datagrams on lo that MATCH (nft words) selects.
# shellcheck shell=bash

skip() {
  echo "SKIPPED: $*"
  exit 77
}

netns_skip_unless_possible() {
  command -v nft >/dev/null || skip "nft (Debian package nftables) is not installed"
  unshare -rn true 2>/dev/null || skip "unprivileged user and network namespaces are not permitted here"
}

lossy_loopback() {
  ip link set lo up
  nft add table inet loss
  nft add chain inet loss input "{ type filter hook input priority 0; }"
  # shellcheck disable=SC2086 # MATCH is several nft words
  nft add rule inet loss input iifname lo $1 numgen random mod 100 "<" 10 drop
}
