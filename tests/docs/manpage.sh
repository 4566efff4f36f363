#!/usr/bin/env bash
# Every option each command's --help lists is in the built man page (which tools/manpage writes
# from the same definitions): usage: tests/docs/manpage.sh path/to/udpchat path/to/udpchat.1
set -euo pipefail
udpchat=$1
manpage=$2
missing=0
checked=0
for command in serve chat probe bench; do
  # The option lines of CLI11's help: "  -q,--quiet ..." or "  --bind ADDR:PORT ...".
  while read -r option; do
    checked=$((checked + 1))
    escaped=${option//-/\\-}
    if ! grep -qF -- "\\fB$escaped\\fR" "$manpage"; then
      echo "manpage: udpchat $command $option is not in $manpage"
      missing=$((missing + 1))
    fi
  done < <("$udpchat" "$command" --help | grep -E '^ +(-[A-Za-z],)?--[a-z]' |
    grep -oE -- '--[a-z][a-z0-9-]*' | grep -v -- '--help' | sort -u)
done
[ "$checked" -gt 40 ] || { echo "manpage: only $checked options found in --help: is the parser broken?"; exit 1; }
[ "$missing" -eq 0 ] || exit 1
echo "manpage: all $checked options of serve, chat, probe and bench are in the man page"
