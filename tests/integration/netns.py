#!/usr/bin/env python3
"""Run a command in a private network namespace (Linux, root).

    netns.py [--timeout S] COMMAND [ARGS...]

Makes a namespace `mtasts-PID` with `ip netns add` (a fresh loopback,
brought up; no other interface, so nothing inside reaches beyond it), a
/etc/netns/mtasts-PID/resolv.conf with `nameserver 127.0.0.1` (which
`ip netns exec` bind-mounts over /etc/resolv.conf for what it starts),
and runs COMMAND there with `ip netns exec`. Inside, the test world can
serve DNS on 127.0.0.1:53 and HTTPS on port 443, the ports that programs
using the system resolver and https:// URLs (postfix-mta-sts-resolver)
go to. COMMAND is killed after --timeout seconds. On every path (exit,
error, SIGTERM from meson's timeout) the processes left in the namespace
are killed (SIGTERM, then SIGKILL, bounded), and the namespace and its
/etc/netns directory are deleted.

Exit status: COMMAND's; 77 (meson's "skipped") with a message when the
machine does not permit `ip netns` (not root, no ip(8), no namespaces).
Standard library only.
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time

SKIP = 77
IP_TIMEOUT_S = 10  # for one ip(8) run
KILL_WAIT_S = 5.0  # after SIGTERM, before SIGKILL


def _exit_on_signal(signum, frame):
    del frame
    raise SystemExit(128 + signum)


def ip(*args, check=True):
    r = subprocess.run(["ip", *args], capture_output=True, text=True,
                       timeout=IP_TIMEOUT_S, check=False)
    if check and r.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {r.stderr.strip()}")
    return r


def ns_pids(name):
    r = ip("netns", "pids", name, check=False)
    return [int(p) for p in r.stdout.split()] if r.returncode == 0 else []


def kill_all(name):
    """Every process left in the namespace: SIGTERM, then SIGKILL."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = ns_pids(name)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        end = time.monotonic() + KILL_WAIT_S
        while time.monotonic() < end and ns_pids(name):
            time.sleep(0.05)


def main():
    signal.signal(signal.SIGTERM, _exit_on_signal)
    signal.signal(signal.SIGHUP, _exit_on_signal)
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--timeout", type=float, default=240.0,
                   help="kill COMMAND after this many seconds")
    p.add_argument("command", nargs=argparse.REMAINDER)
    args = p.parse_args()
    if not args.command:
        p.error("give a COMMAND")

    name = f"mtasts-{os.getpid()}"
    etc = os.path.join("/etc/netns", name)
    if shutil.which("ip") is None:
        print("netns.py: SKIP: ip(8) not found (Debian package iproute2)",
              file=sys.stderr)
        return SKIP
    try:
        r = ip("netns", "add", name, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        r = None
        why = str(e)
    if r is None or r.returncode != 0:
        why = r.stderr.strip() if r is not None else why
        print(f"netns.py: SKIP: `ip netns add` is not permitted here "
              f"({why}); the side-by-side test needs root and network "
              f"namespaces", file=sys.stderr)
        return SKIP
    try:
        os.makedirs(etc, exist_ok=True)
        with open(os.path.join(etc, "resolv.conf"), "w") as f:
            f.write("# written by libmtasts tests/integration/netns.py\n"
                    "nameserver 127.0.0.1\noptions timeout:2 attempts:2\n")
        ip("netns", "exec", name, "ip", "link", "set", "lo", "up")
        env = {k: v for k, v in os.environ.items()
               if k.lower() not in ("http_proxy", "https_proxy", "all_proxy",
                                    "no_proxy")}
        print(f"netns.py: namespace {name} (loopback only, resolv.conf: "
              f"nameserver 127.0.0.1)", flush=True)
        try:
            return subprocess.run(["ip", "netns", "exec", name,
                                   *args.command], env=env,
                                  timeout=args.timeout,
                                  check=False).returncode
        except subprocess.TimeoutExpired:
            print(f"netns.py: {args.command[0]} killed after "
                  f"{args.timeout} s", file=sys.stderr)
            return 1
    finally:
        kill_all(name)
        ip("netns", "del", name, check=False)
        shutil.rmtree(etc, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
