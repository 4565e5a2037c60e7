#!/usr/bin/env bash
# A small MTA-STS world on loopback to try mtasts-query on: the domain
# example.test with a valid enforce policy, its _mta-sts TXT record served
# by nsd and its policy by nginx over HTTPS, under a test CA made now.
# Nothing leaves the machine: every server listens on 127.0.0.1 (and ::1)
# at free unprivileged ports, and everything is stopped on exit.
#
#   examples/demo-world.sh
#       start the world, print the mtasts-query command to use, and wait
#       for Enter (or Ctrl-C; at once without a terminal), then stop
#   examples/demo-world.sh --query [MTASTS-QUERY-ARGS...]
#       run mtasts-query (build/examples/mtasts-query/mtasts-query when
#       built there, else the one on PATH) inside the world with the
#       world's resolver, CA file and HTTPS port, then stop; the arguments
#       default to example.test. Exit status: mtasts-query's.
#   examples/demo-world.sh -- CMD [ARGS...]
#       run CMD inside the world, stop it, and exit with CMD's status.
#       CMD sees MTASTS_DEMO_RESOLVER (127.0.0.1@PORT), MTASTS_DEMO_CA (the
#       CA file), MTASTS_DEMO_PORT (the HTTPS port), MTASTS_DEMO_DOMAIN and
#       MTASTS_DEMO_ARGS (the three options for mtasts-query), e.g.
#       examples/demo-world.sh -- sh -c \
#           'build/examples/mtasts-query/mtasts-query $MTASTS_DEMO_ARGS example.test'
#
# Needs python3, nsd, nginx and openssl (Debian 12: apt-get install
# python3 nsd nginx-light openssl). The world ends by itself after
# MTASTS_DEMO_LIFETIME seconds (default 600).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
world_py=$top/tests/integration/world.py
python=${PYTHON:-python3}
lifetime=${MTASTS_DEMO_LIFETIME:-600}
domain=example.test

mode=wait
if [ $# -gt 0 ]; then
    case $1 in
    --query) mode=query; shift
             if [ $# -eq 0 ]; then set -- "$domain"; fi ;;
    --) if [ $# -lt 2 ]; then mode=usage; else mode=run; shift; fi ;;
    *) mode=usage ;;
    esac
fi
if [ "$mode" = usage ]; then
    echo "usage: $0 [--query [MTASTS-QUERY-ARGS...] | -- CMD [ARGS...]]" >&2
    exit 64
fi

missing=()
command -v "$python" >/dev/null || missing+=(python3)
for tool in nsd nsd-checkconf nginx; do
    command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] ||
        missing+=("$tool")
done
command -v openssl >/dev/null || missing+=(openssl)
if [ ${#missing[@]} -gt 0 ]; then
    echo "demo-world: missing ${missing[*]}; on Debian 12:" >&2
    echo "  apt-get install python3 nsd nginx-light openssl" >&2
    exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/mtasts-demo.XXXXXX")
world_pid=
stop_world() {
    if [ -n "$world_pid" ]; then
        "$python" "$world_py" down "$work/world" >/dev/null 2>&1 ||
            kill "$world_pid" 2>/dev/null || true
        wait "$world_pid" 2>/dev/null || true
        world_pid=
    fi
    rm -rf "$work"
}
trap stop_world EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

"$python" "$world_py" up "$work/world" --profile demo \
    --lifetime "$lifetime" --die-with-parent \
    >"$work/up.json" 2>"$work/up.log" &
world_pid=$!

# Wait for the world's description (bounded: 20 s), or for its failure.
for _ in $(seq 200); do
    if [ -f "$work/world/world.env" ]; then
        break
    fi
    if ! kill -0 "$world_pid" 2>/dev/null; then
        break
    fi
    sleep 0.1
done
if [ ! -f "$work/world/world.env" ]; then
    echo "demo-world: the world did not start:" >&2
    cat "$work/up.log" >&2
    exit 1
fi

# shellcheck source=/dev/null
. "$work/world/world.env"
export MTASTS_DEMO_RESOLVER=$MTASTS_WORLD_RESOLVER
export MTASTS_DEMO_CA=$MTASTS_WORLD_CA
export MTASTS_DEMO_PORT=$MTASTS_WORLD_HTTPS_PORT
export MTASTS_DEMO_DOMAIN=$domain
export MTASTS_DEMO_ARGS="--resolver $MTASTS_DEMO_RESOLVER --ca-file $MTASTS_DEMO_CA --https-port $MTASTS_DEMO_PORT"

query=mtasts-query
if [ -x "$top/build/examples/mtasts-query/mtasts-query" ]; then
    query=$top/build/examples/mtasts-query/mtasts-query
fi

if [ "$mode" = query ]; then
    # $MTASTS_DEMO_ARGS holds no spaces inside its words: split on purpose.
    # shellcheck disable=SC2086
    set -- "$query" $MTASTS_DEMO_ARGS "$@"
    echo "+ $*" >&2
fi
if [ "$mode" != wait ]; then
    set +e
    "$@"
    status=$?
    set -e
    exit "$status"
fi

cat <<EOF
MTA-STS demo world on loopback (stops by itself in $lifetime s):
  domain      $domain: TXT "v=STSv1; id=20240101T000000", policy mode
              enforce, mx mail.example.test and *.mx.example.test
  DNS         $MTASTS_DEMO_RESOLVER (nsd)
  HTTPS       port $MTASTS_DEMO_PORT (nginx), https://mta-sts.$domain:$MTASTS_DEMO_PORT/.well-known/mta-sts.txt
  CA file     $MTASTS_DEMO_CA

Try, in another terminal:
  $query $MTASTS_DEMO_ARGS $domain
  $query $MTASTS_DEMO_ARGS --mx mail.example.test --mx mx.other.test $domain

EOF
if [ -t 0 ]; then
    echo "Press Enter or Ctrl-C to stop the world."
    read -r _ || true
fi
