#!/usr/bin/env bash
# The GitHub Action's steps (action.yml): install a released udpchat for the runner, then
# optionally wait for a relay, post a message, or start a relay in the background.
#   scripts/action.sh install|probe|chat|serve
# Inputs come as INPUT_* variables (set by action.yml); results go to $GITHUB_OUTPUT, the
# binary's folder to $GITHUB_PATH. Runs under bash on Linux, macOS and Windows (Git Bash) runners.
set -euo pipefail

fail() {
  echo "::error title=udpchat action::$*" >&2
  exit 1
}
output() { echo "$1=$2" >>"${GITHUB_OUTPUT:-/dev/null}"; }

# The release asset for this runner, as release.yml names it.
asset_for_runner() {
  local version=$1
  case "${RUNNER_OS:-$(uname -s)}/${RUNNER_ARCH:-$(uname -m)}" in
    Linux/X64 | Linux/x86_64) echo "udpchat-$version-linux-x86_64.tar.gz" ;;
    Linux/ARM64 | Linux/aarch64) echo "udpchat-$version-linux-aarch64.tar.gz" ;;
    macOS/* | Darwin/*) echo "udpchat-$version-macos-universal.tar.gz" ;;
    Windows/X64 | MINGW*/* | MSYS*/*) echo "udpchat-$version-windows-x64.zip" ;;
    *) fail "no udpchat release for ${RUNNER_OS:-?}/${RUNNER_ARCH:-?} (Linux x64/ARM64, macOS, Windows x64)" ;;
  esac
}

sha256_of() {
  if command -v sha256sum >/dev/null; then
    sha256sum "$1" | cut -d' ' -f1
  else
    shasum -a 256 "$1" | cut -d' ' -f1
  fi
}

install_udpchat() {
  local version=${INPUT_VERSION:-}
  version=${version#v}
  [ -n "$version" ] || fail "the version input is required (a release, such as 0.1.0)"
  [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+([-.][0-9A-Za-z.]+)?$ ]] ||
    fail "version '$version' is not a release version (such as 0.1.0)"
  local repository=${INPUT_REPOSITORY:-${GITHUB_REPOSITORY:-}}
  local base=${INPUT_BASE_URL:-https://github.com/$repository/releases/download/v$version}
  local asset
  asset=$(asset_for_runner "$version")
  local work=${RUNNER_TEMP:-${TMPDIR:-/tmp}}/udpchat-$version
  rm -rf "$work"
  mkdir -p "$work"

  echo "udpchat: downloading $asset from $base"
  curl -fsSL --retry 3 -o "$work/$asset" "$base/$asset" || fail "cannot download $base/$asset"
  curl -fsSL --retry 3 -o "$work/SHA256SUMS" "$base/SHA256SUMS" ||
    fail "cannot download $base/SHA256SUMS"
  local expected actual
  expected=$(awk -v name="$asset" '$2 == name || $2 == "*" name { print $1 }' "$work/SHA256SUMS")
  [ -n "$expected" ] || fail "SHA256SUMS lists no $asset"
  actual=$(sha256_of "$work/$asset")
  [ "$expected" = "$actual" ] || fail "$asset does not match SHA256SUMS (expected $expected, got $actual)"

  local top=${asset%.tar.gz}
  top=${top%.zip}
  if [[ "$asset" == *.zip ]]; then
    if command -v unzip >/dev/null; then
      unzip -q "$work/$asset" -d "$work"
    else
      powershell -NoProfile -Command "Expand-Archive -Path '$work/$asset' -DestinationPath '$work'"
    fi
  else
    tar -xzf "$work/$asset" -C "$work"
  fi
  local bin=$work/$top/bin
  [ -d "$bin" ] || bin=$work/$top
  local exe=$bin/udpchat
  [ -f "$exe" ] || exe=$bin/udpchat.exe
  [ -f "$exe" ] || fail "$asset holds no udpchat binary where expected ($bin)"
  "$exe" --version || fail "the installed udpchat does not run"
  # Windows runners read GITHUB_PATH as Windows paths.
  if command -v cygpath >/dev/null; then bin=$(cygpath -w "$bin"); fi
  echo "$bin" >>"${GITHUB_PATH:-/dev/null}"
  output path "$bin"
  output version "$version"
}

need_udpchat() {
  command -v udpchat >/dev/null || fail "udpchat is not on PATH: run the install step first"
}

# probe --wait: the CI "wait for the service" step.
wait_for_relay() {
  need_udpchat
  udpchat probe --wait "${INPUT_WAIT:-30s}" --progress "${INPUT_TARGET:-127.0.0.1:9998}"
}

# chat -m: post one message (exit 1 when it is not acknowledged).
post_message() {
  need_udpchat
  [ -n "${INPUT_MESSAGE:-}" ] || fail "run: chat needs the message input"
  local args=(chat --nick "${INPUT_NICK:-ci}" -m "$INPUT_MESSAGE")
  if [ -n "${INPUT_ROOM:-}" ]; then args+=(--room "$INPUT_ROOM"); fi
  udpchat "${args[@]}" "${INPUT_TARGET:-127.0.0.1:9998}"
}

# serve in the background for the rest of the job; its address, port and pid are outputs.
start_relay() {
  need_udpchat
  local work=${RUNNER_TEMP:-${TMPDIR:-/tmp}}
  local port_file=$work/udpchat-serve.port
  local log=$work/udpchat-serve.log
  rm -f "$port_file"
  local args=(serve --bind "${INPUT_BIND:-127.0.0.1:0}" --port-file "$port_file")
  # Extra serve options, split at spaces (no option of serve takes a value with a space).
  local extra
  read -r -a extra <<<"${INPUT_SERVE_ARGS:-}"
  args+=("${extra[@]}")
  nohup udpchat "${args[@]}" >"$log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do
    [ -s "$port_file" ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; fail "serve exited at start"; }
    sleep 0.1
  done
  [ -s "$port_file" ] || { cat "$log" >&2; fail "serve did not write its port file"; }
  local port
  port=$(tr -d '\r\n' <"$port_file")
  local host=${INPUT_BIND:-127.0.0.1:0}
  host=${host%:*}
  case "$host" in "" | "[::]" | "0.0.0.0") host=127.0.0.1 ;; esac
  udpchat probe --wait 10s "$host:$port" >/dev/null || { cat "$log" >&2; fail "serve does not answer"; }
  echo "udpchat: serve listening on $host:$port (pid $pid, log $log)"
  output address "$host:$port"
  output port "$port"
  output pid "$pid"
  output log "$log"
}

case "${1:-}" in
  install) install_udpchat ;;
  probe) wait_for_relay ;;
  chat) post_message ;;
  serve) start_relay ;;
  *)
    echo "usage: scripts/action.sh install|probe|chat|serve" >&2
    exit 2
    ;;
esac
