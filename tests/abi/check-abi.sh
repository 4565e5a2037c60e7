#!/usr/bin/env bash
# Compare a built libmtasts.so with the ABI baseline of the release it
# claims to be compatible with (docs/abi.md, "Checking the ABI").
#
#   tests/abi/check-abi.sh LIBRARY            check; exit 1 on a break
#   tests/abi/check-abi.sh --update LIBRARY   rewrite the baselines (at a
#                                             release only)
#
# Two checks, both must pass:
#   1. abidiff (libabigail) between lib/mtasts.abi, the abidw dump of the
#      released library, and LIBRARY: removed or changed functions or
#      variables, changed public types (enums, mtasts_parse_error) are
#      breaks; added functions are listed and allowed. The layout of the
#      opaque structs is private (lib/mtasts.abignore).
#   2. tests/abi/api_baseline.py between lib/mtasts.api and the header:
#      every signature, callback type, enumerator, public struct member
#      and numeric constant, as the header spells it.
# Exit status: 0 compatible (additions allowed), 1 a break, 2 a tool
# failed (abidw or abidiff missing or unable to read a file).
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
update=no
if [ "${1:-}" = "--update" ]; then
    update=yes
    shift
fi
lib=${1:?usage: check-abi.sh [--update] LIBRARY}
src=${MTASTS_SOURCE:-$top}
header=$src/include/mtasts/mtasts.h
map=$src/lib/libmtasts.map
abi=$top/lib/mtasts.abi
api=$top/lib/mtasts.api
supp=$top/lib/mtasts.abignore

for tool in abidw abidiff python3; do
    if ! command -v "$tool" >/dev/null; then
        echo "check-abi: $tool not found (Debian: abigail-tools)" >&2
        exit 2
    fi
done

if [ "$update" = yes ]; then
    abidw --no-corpus-path --no-comp-dir-path --type-id-style hash \
        --suppressions "$supp" "$lib" > "$abi.tmp" || exit 2
    mv "$abi.tmp" "$abi"
    python3 "$top/tests/abi/api_baseline.py" dump "$header" "$map" > "$api.tmp" \
        || exit 2
    mv "$api.tmp" "$api"
    echo "check-abi: wrote $abi and $api"
    exit 0
fi

status=0
out=$(abidiff --suppressions "$supp" --no-show-locs "$abi" "$lib" 2>&1)
rc=$?
echo "$out"
# abidiff's exit status is a bit field: 1 error, 2 usage, 4 a change,
# 8 an incompatible change (a removed symbol).
if (( rc & 3 )); then
    echo "check-abi: abidiff failed (exit $rc)"
    exit 2
fi
if (( rc & 8 )); then
    echo "check-abi: INCOMPATIBLE: abidiff reports a removed symbol"
    status=1
fi
# A change that is not a removal: only additions are compatible.
summary=$(printf '%s\n' "$out" | grep -E 'changes summary:' || true)
while read -r line; do
    removed=$(sed -nE 's/.*: ([0-9]+) Removed.*/\1/p' <<<"$line")
    changed=$(sed -nE 's/.* ([0-9]+) Changed.*/\1/p' <<<"$line")
    if [ "${removed:-0}" != 0 ] || [ "${changed:-0}" != 0 ]; then
        echo "check-abi: INCOMPATIBLE: $line"
        status=1
    fi
done <<<"$summary"

python3 "$top/tests/abi/api_baseline.py" check "$api" "$header" "$map"
case $? in
    0) ;;
    1) status=1 ;;
    *) echo "check-abi: api_baseline.py failed"; exit 2 ;;
esac

if [ "$status" = 0 ]; then
    echo "check-abi: compatible with the baseline"
else
    echo "check-abi: INCOMPATIBLE with the baseline"
fi
exit "$status"
