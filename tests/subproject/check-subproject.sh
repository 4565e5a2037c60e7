#!/usr/bin/env bash
# Build a small parent project that takes libmtasts as a meson subproject
# (dependency('mtasts') through meson.override_dependency) and run its test.
#
#   tests/subproject/check-subproject.sh WORKDIR
#
# WORKDIR/src gets a copy of tests/subproject/ and a link
# subprojects/libmtasts to this repository (made here, so the repository
# holds no link into itself); WORKDIR/build is the parent's build dir, whose
# meson-logs/testlog.json CI keeps. Extra `meson setup` options can be given
# in MESON_SETUP_ARGS. libmtasts is configured with its tests, examples and
# docs off, as a parent would, which also keeps this quick.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
work=${1:?usage: check-subproject.sh WORKDIR}
rm -rf "$work/src" "$work/build"
mkdir -p "$work/src/subprojects"
cp "$top/tests/subproject/meson.build" "$top/tests/subproject/main.c" \
    "$work/src/"
ln -s "$top" "$work/src/subprojects/libmtasts"

# --force-fallback-for: an installed mtasts.pc must not stand in for the
# subproject
# shellcheck disable=SC2086
meson setup "$work/build" "$work/src" --force-fallback-for=mtasts \
    -Dlibmtasts:tests=false -Dlibmtasts:examples=false \
    -Dlibmtasts:docs=false ${MESON_SETUP_ARGS:-} >"$work/setup.log" ||
    { cat "$work/setup.log"; echo "FAIL: meson setup of the parent"; exit 1; }
# meson says "(overridden)" when meson.override_dependency() supplied it
if grep 'Dependency mtasts found: YES.*(overridden)' "$work/setup.log"; then
    echo "PASS: dependency('mtasts') from libmtasts' override_dependency"
else
    echo "FAIL: dependency('mtasts') did not come from the override"
    exit 1
fi
meson compile -C "$work/build"
if meson test -C "$work/build" --print-errorlogs; then
    echo "PASS: libmtasts as a meson subproject"
else
    echo "FAIL: libmtasts as a meson subproject"
    exit 1
fi
