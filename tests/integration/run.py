#!/usr/bin/env python3
"""Run one integration test program inside a fresh test world.

    run.py PROGRAM [ARGS...]     start the world, run PROGRAM with the
                                 world's variables, stop the world
    run.py --selftest            start the world and check it at the wire
                                 level with plain Python clients

PROGRAM gets MTASTS_WORLD (the JSON description's path),
MTASTS_WORLD_RESOLVER, MTASTS_WORLD_DEAD_RESOLVER, MTASTS_WORLD_HTTPS_PORT,
MTASTS_WORLD_CA, MTASTS_WORLD_OTHER_CA and MTASTS_WORLD_IPV6. Its exit
status is ours; a program still running after --timeout seconds is killed.
--dns-port and --https-port fix the world's ports (e.g. 53 and 443 in a
private network namespace, tests/integration/netns.py). The world is
stopped on every path (it also ends itself after its
lifetime, and its servers die with this process). Standard library only.
"""

import argparse
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import world  # noqa: E402  (the fixture beside this file)

DEFAULT_TIMEOUT_S = 240


def _exit_on_signal(signum, frame):
    """SIGTERM (meson's timeout) and SIGHUP unwind like an error, so the
    world is stopped and the program killed (subprocess.run does that)."""
    del frame
    raise SystemExit(128 + signum)


def main():
    signal.signal(signal.SIGTERM, _exit_on_signal)
    signal.signal(signal.SIGHUP, _exit_on_signal)
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--selftest", action="store_true",
                   help="check the world itself, run no program")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S,
                   help="kill the program after this many seconds")
    p.add_argument("--dns-port", type=int, default=None,
                   help="the world's DNS port (default: a free one)")
    p.add_argument("--https-port", type=int, default=None,
                   help="the world's HTTPS port (default: a free one)")
    p.add_argument("program", nargs=argparse.REMAINDER)
    args = p.parse_args()
    if not args.selftest and not args.program:
        p.error("give a PROGRAM or --selftest")

    t0 = time.monotonic()
    try:
        w = world.World(lifetime=args.timeout + 60, dns_port=args.dns_port,
                        https_port=args.https_port)
        w.start()
    except world.WorldError as e:
        print(f"run.py: the test world did not start: {e}", file=sys.stderr)
        return 1
    try:
        print(f"run.py: world up in {w.timings['start_s']} s "
              f"(certificates {w.timings['pki_s']} s) at {w.dir}: "
              f"resolver {w.resolver}, https port {w.https_port}, "
              f"ipv6 {w.ipv6}", flush=True)
        if args.selftest:
            return 1 if w.check() else 0
        env = dict(os.environ)
        env.update(w.env())
        t1 = time.monotonic()
        try:
            rc = subprocess.run(args.program, env=env, timeout=args.timeout,
                                check=False).returncode
        except subprocess.TimeoutExpired:
            print(f"run.py: {args.program[0]} killed after {args.timeout} s",
                  file=sys.stderr)
            rc = 1
        print(f"run.py: program ran {time.monotonic() - t1:.2f} s, "
              f"exit {rc}", flush=True)
        return rc
    finally:
        w.stop()
        print(f"run.py: world down in {w.timings['stop_s']} s; "
              f"{time.monotonic() - t0:.2f} s in all", flush=True)


if __name__ == "__main__":
    sys.exit(main())
