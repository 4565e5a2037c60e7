#!/usr/bin/env bash
# Show that tests/abi/check-abi.sh fails on an incompatible change and
# passes on an addition, on a scratch copy of the source tree (the tree
# itself is never touched). Run by .ci/run; exits non-zero if the check
# misses a break or rejects an addition.
#
#   tests/abi/check-abi-catches.sh [SCRATCH_DIR]
#
# Break build, three edits at once, each must be reported:
#   - a parameter type: mtasts_policy_mx(const mtasts_policy *, size_t)
#     takes a uint32_t index;
#   - a return type: mtasts_policy_max_age() returns uint64_t;
#   - an enum value: MTASTS_MODE_TESTING becomes 5.
# Addition build: a new function mtasts_abi_probe_added() in the header,
# the source and a new version node of the map; then the same function
# put into the released node instead must be refused.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
scratch=${1:-$(mktemp -d /tmp/mtasts-abi-XXXXXX)}
rm -rf "$scratch"
mkdir -p "$scratch/src"
(cd "$top" && git ls-files -z | xargs -0 tar -cf - --no-recursion) |
    tar -xf - -C "$scratch/src"
src=$scratch/src
failures=0

build() {
    meson setup "$scratch/build" "$src" -Dtests=false -Dexamples=false \
        -Ddocs=false -Dredis=disabled -Dintegration=disabled >/dev/null
    ninja -C "$scratch/build" "$(cd "$scratch/build" &&
        ninja -t targets all | sed -nE 's/^(lib\/libmtasts\.so\.[0-9.]+):.*/\1/p' |
        head -n 1)" >/dev/null
}

edit() { # FILE PYTHON-REGEX REPLACEMENT: exactly one substitution
    python3 - "$@" <<'EOF'
import re, sys
path, pat, rep = sys.argv[1:4]
text = open(path).read()
new, n = re.subn(pat, rep, text, flags=re.M)
if n != 1:
    sys.exit(f"edit: {n} matches of {pat!r} in {path}")
open(path, "w").write(new)
EOF
}

expect() { # WHAT WANT_STATUS PATTERN...
    local what=$1 want=$2 got out
    shift 2
    set +e
    out=$(MTASTS_SOURCE="$src" \
        "$top/tests/abi/check-abi.sh" "$scratch/build/lib/libmtasts.so" 2>&1)
    got=$?
    set -e
    printf '%s\n' "$out" | sed 's/^/    /'
    if [ "$got" != "$want" ]; then
        echo "FAIL: $what: check-abi.sh exited $got, expected $want"
        failures=$((failures + 1))
    fi
    for pat in "$@"; do
        if ! grep -qE -- "$pat" <<<"$out"; then
            echo "FAIL: $what: output lacks /$pat/"
            failures=$((failures + 1))
        fi
    done
    echo "$what: check-abi.sh exited $got (expected $want)"
}

echo "== a build with three incompatible changes"
h=$src/include/mtasts/mtasts.h
edit "$h" '^(MTASTS_API const char \*mtasts_policy_mx\(const mtasts_policy \*p, )size_t i\);' '\1uint32_t i);'
edit "$src/lib/parse/policy.c" '^(mtasts_policy_mx\(const mtasts_policy \*p, )size_t i\)' '\1uint32_t i)'
edit "$h" '^MTASTS_API uint32_t (mtasts_policy_max_age\()' 'MTASTS_API uint64_t \1'
edit "$src/lib/parse/policy.c" '^uint32_t\n(mtasts_policy_max_age\()' 'uint64_t\n\1'
edit "$h" '(MTASTS_MODE_TESTING = )1,' '\g<1>5,'
build
expect "break" 1 'INCOMPATIBLE' \
    'changed: fn mtasts_policy_mx@' \
    'changed: fn mtasts_policy_max_age@' \
    'changed: enum mtasts_mode.MTASTS_MODE_TESTING = 1' \
    "parameter 2 of type 'typedef size_t' changed" \
    "MTASTS_MODE_TESTING' from value '1' to '5'"

echo "== a build that only adds a function"
rm -rf "$src" "$scratch/build"
mkdir -p "$src"
(cd "$top" && git ls-files -z | xargs -0 tar -cf - --no-recursion) |
    tar -xf - -C "$src"
edit "$h" '^(MTASTS_API const char \*mtasts_version_string\(void\);)' \
    '\1\nMTASTS_API int mtasts_abi_probe_added(int x);'
cat >>"$src/lib/util/status.c" <<'EOF'

MTASTS_API int
mtasts_abi_probe_added(int x)
{
    return x + 1;
}
EOF
node=$(sed -nE 's/^(MTASTS_[0-9.]+) \{.*/\1/p' "$src/lib/libmtasts.map" | tail -n 1)
printf '\nMTASTS_ABI_PROBE { global: mtasts_abi_probe_added; } %s;\n' "$node" \
    >>"$src/lib/libmtasts.map"
build
expect "addition" 0 'added \(compatible\): fn mtasts_abi_probe_added@MTASTS_ABI_PROBE: int\(int\)' \
    '1 Added function' 'compatible with the baseline'

echo "== the same function added to a released node of the map"
python3 - "$src/lib/libmtasts.map" <<'EOF2'
import re, sys
p = sys.argv[1]
s = open(p).read()
s = re.sub(r"\nMTASTS_ABI_PROBE \{[^}]*\}[^;]*;\n", "\n", s)
s = s.replace("global:", "global:\n    mtasts_abi_probe_added;", 1)
open(p, "w").write(s)
EOF2
set +e
out=$(python3 "$top/tests/abi/api_baseline.py" check "$top/lib/mtasts.api" \
    "$h" "$src/lib/libmtasts.map" 2>&1)
got=$?
set -e
printf '%s\n' "$out" | sed 's/^/    /'
if [ "$got" != 1 ] || ! grep -q 'added to a released node' <<<"$out"; then
    echo "FAIL: released node: api_baseline.py exited $got, expected 1"
    failures=$((failures + 1))
fi

rm -rf "$scratch"
if [ "$failures" != 0 ]; then
    echo "check-abi-catches: $failures failures"
    exit 1
fi
echo "check-abi-catches: the break was refused and the addition accepted"
