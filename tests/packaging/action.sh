#!/usr/bin/env bash
# The GitHub Action's script (scripts/action.sh, what action.yml runs) against this build's
# tarball laid out as a release (file://): it installs udpchat and puts it on PATH, refuses an
# archive that does not match SHA256SUMS, then starts serve, waits with probe and posts with chat
# as a workflow would. Exit 77 (skipped) without cpack.
# Usage: tests/packaging/action.sh BUILD_DIR VERSION
set -euo pipefail
build=$1 version=$2
command -v cpack >/dev/null || { echo "SKIPPED: cpack is not installed"; exit 77; }
here=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
serve_pid=""
cleanup() {
  if [ -n "$serve_pid" ]; then kill -TERM "$serve_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# The release: the tarball as release.yml names it, and its SHA256SUMS.
release=$work/release/v$version
[ "$("$here/scripts/release-dir" "$build" "$release")" = "$version" ] || fail "release-dir: no $version"
asset=$(cd "$release" && ls udpchat-"$version"-linux-*.tar.gz)

# What a runner gives a step.
export RUNNER_OS=Linux RUNNER_TEMP=$work/runner GITHUB_PATH=$work/path GITHUB_OUTPUT=$work/output
export RUNNER_ARCH
case "$(uname -m)" in x86_64) RUNNER_ARCH=X64 ;; aarch64) RUNNER_ARCH=ARM64 ;; *) RUNNER_ARCH=$(uname -m) ;; esac
mkdir -p "$RUNNER_TEMP"
: >"$GITHUB_PATH"
: >"$GITHUB_OUTPUT"

INPUT_VERSION=v$version INPUT_BASE_URL=file://$release "$here/scripts/action.sh" install
bin=$(tail -n 1 "$GITHUB_PATH")
[ -x "$bin/udpchat" ] || fail "GITHUB_PATH names $bin, which holds no udpchat"
PATH=$bin:$PATH
udpchat --version | grep -q "^$version" || fail "udpchat --version does not say $version"
grep -q "^version=$version\$" "$GITHUB_OUTPUT" || fail "no version output: $(cat "$GITHUB_OUTPUT")"

# A tampered archive is refused.
cp -r "$release" "$work/tampered"
echo "tampered" >>"$work/tampered/$asset"
mkdir -p "$work/other-runner"
if RUNNER_TEMP=$work/other-runner INPUT_VERSION=$version INPUT_BASE_URL=file://$work/tampered \
  "$here/scripts/action.sh" install >"$work/tampered.log" 2>&1; then
  fail "an archive that does not match SHA256SUMS was installed"
fi
grep -q "does not match SHA256SUMS" "$work/tampered.log" || { cat "$work/tampered.log"; fail "no checksum error"; }

# run: serve, then probe and chat against it, with the installed binary.
: >"$GITHUB_OUTPUT"
"$here/scripts/action.sh" serve
address=$(sed -n 's/^address=//p' "$GITHUB_OUTPUT")
serve_pid=$(sed -n 's/^pid=//p' "$GITHUB_OUTPUT")
if [ -z "$address" ] || [ -z "$serve_pid" ]; then fail "serve gave no address or pid: $(cat "$GITHUB_OUTPUT")"; fi
INPUT_TARGET=$address INPUT_WAIT=5s "$here/scripts/action.sh" probe
INPUT_TARGET=$address INPUT_MESSAGE="deploy $version done" "$here/scripts/action.sh" chat
kill -TERM "$serve_pid"
wait "$serve_pid" 2>/dev/null || true
serve_pid=""
grep -q "nick=ci" "$(sed -n 's/^log=//p' "$GITHUB_OUTPUT")" || fail "serve did not see the post"
echo "action: installed $asset from a file:// release, refused a tampered one, served, probed and posted"
