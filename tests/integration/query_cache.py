#!/usr/bin/env python3
"""mtasts-query --cache FILE against the loopback world (run by run.py).

Usage: run.py query_cache.py PATH-TO-mtasts-query

Repeated runs behave like one long-running MTA (RFC 8461 §5): the first
run fetches valid.test's policy and saves it; a second run with the
policy's HTTPS server unreachable, and a third with DNS dead, still answer
with the cached, unexpired policy, and the JSON says "from_cache": true
(R8461-3.3-m, R8461-3.1-o). --list shows the entry; after --purge a dead
DNS leaves nothing to apply. Standard library only.
"""
import json
import os
import socket
import subprocess
import sys
import tempfile

QUERY = sys.argv[1]
ENV = os.environ
failures = []
count = 0


def check(name, cond, detail=""):
    global count
    count += 1
    print(("ok   " if cond else "FAIL ") + name + ("" if cond else ": " + detail))
    if not cond:
        failures.append(name)


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def query(cache, domain, resolver=None, port=None):
    args = [QUERY, "--json", "--cache", cache,
            "--resolver", resolver or ENV["MTASTS_WORLD_RESOLVER"],
            "--ca-file", ENV["MTASTS_WORLD_CA"],
            "--https-port", str(port or ENV["MTASTS_WORLD_HTTPS_PORT"]),
            "--timeout-ms", "3000", domain]
    p = subprocess.run(args, capture_output=True, timeout=60, check=False)
    out = p.stdout.decode()
    try:
        return p.returncode, json.loads(out), p.stderr.decode()
    except ValueError:
        return p.returncode, {"unparsed": out}, p.stderr.decode()


with tempfile.TemporaryDirectory() as d:
    cache = os.path.join(d, "mtasts.cache")
    rc, j, err = query(cache, "valid.test")
    check("first run fetches", rc == 0 and j.get("result") == "policy"
          and j.get("from_cache") is False and os.path.exists(cache),
          f"rc={rc} {j} {err}")
    txt_id = j.get("txt_id")

    rc, j, err = query(cache, "valid.test", port=free_port())
    check("HTTPS unreachable: the cached policy, from_cache", rc == 0
          and j.get("result") == "policy" and j.get("from_cache") is True
          and j.get("txt_id") == txt_id
          and j.get("policy", {}).get("mode") == "enforce",
          f"rc={rc} {j} {err}")

    rc, j, err = query(cache, "valid.test",
                       resolver=ENV["MTASTS_WORLD_DEAD_RESOLVER"],
                       port=free_port())
    check("DNS dead too: still the cached policy, and why", rc == 0
          and j.get("from_cache") is True and j.get("result") == "policy"
          and "still applies" in j.get("reason", ""), f"rc={rc} {j} {err}")

    p = subprocess.run([QUERY, "--json", "--cache", cache, "--list"],
                       capture_output=True, timeout=30, check=False)
    entries = json.loads(p.stdout.decode()).get("entries", [])
    check("--list shows the entry", p.returncode == 0 and len(entries) == 1
          and entries[0]["domain"] == "valid.test"
          and entries[0]["txt_id"] == txt_id
          and entries[0]["expires"] > entries[0]["fetched_at"]
          and entries[0]["last_used"] >= entries[0]["fetched_at"],
          p.stdout.decode())

    p = subprocess.run([QUERY, "--cache", cache, "--purge", "valid.test"],
                       capture_output=True, timeout=30, check=False)
    check("--purge", p.returncode == 0, p.stdout.decode())
    rc, j, err = query(cache, "valid.test",
                       resolver=ENV["MTASTS_WORLD_DEAD_RESOLVER"])
    check("after --purge, DNS dead: no policy to apply", rc == 2
          and j.get("result") == "dns-error" and j.get("from_cache") is False,
          f"rc={rc} {j} {err}")

print(f"{count - len(failures)} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
