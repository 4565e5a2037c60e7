#!/bin/sh
# Run one libFuzzer target for a while (the fuzz-smoke suite, docs/fuzzing.md).
#
#   smoke.sh FUZZER WORKDIR SEEDDIR SECONDS [LIBFUZZER-FLAG...]
#
# libFuzzer writes new inputs into the FIRST corpus directory it is given,
# so that is WORKDIR/corpus, emptied before each run; the seed corpus in the
# source tree comes second and is only read. Crashing inputs go to
# WORKDIR/artifacts/, which is kept between runs.
set -eu

if [ "$#" -lt 4 ]; then
    echo "usage: $0 FUZZER WORKDIR SEEDDIR SECONDS [LIBFUZZER-FLAG...]" >&2
    exit 2
fi
fuzzer=$1
work=$2
seeds=$3
seconds=$4
shift 4

if [ ! -d "$seeds" ]; then
    echo "$0: seed corpus $seeds is not a directory" >&2
    exit 2
fi

rm -rf "$work/corpus"
mkdir -p "$work/corpus" "$work/artifacts"

echo "fuzzing $fuzzer for $seconds s: new inputs in $work/corpus," \
     "crashes in $work/artifacts"
exec "$fuzzer" \
    -max_total_time="$seconds" \
    -artifact_prefix="$work/artifacts/" \
    -print_final_stats=1 \
    "$@" \
    "$work/corpus" "$seeds"
