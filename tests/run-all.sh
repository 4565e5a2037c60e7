#!/usr/bin/env bash
# Run every test of libmtasts in one build directory: unit (Check), ABI,
# fuzz corpus replay, examples. Ends with one line 'N passed, N failed'.
#
#   tests/run-all.sh [BUILDDIR]     (default: build)
#
# A BUILDDIR that does not exist yet is configured first; extra meson setup
# options can be given in MESON_SETUP_ARGS (CI uses it for sanitizers).
set -euo pipefail
cd "$(dirname "$0")/.."
builddir=${1:-build}

if [ ! -f "$builddir/build.ninja" ]; then
    # shellcheck disable=SC2086
    meson setup "$builddir" ${MESON_SETUP_ARGS:-}
fi
meson compile -C "$builddir"

status=0
meson test -C "$builddir" --print-errorlogs --num-processes 2 || status=$?
python3 tests/testlog-summary.py "$builddir/meson-logs/testlog.json" \
    || status=1
exit "$status"
