#!/usr/bin/env python3
"""examples/event-loop against the loopback world (run by run.py).

Usage: run.py event_loop.py PATH-TO-event-loop

The example looks up every domain of the world at once in one thread,
with its own epoll-driven DNS and HTTPS hooks (docs/integration-event-
loop.md). Each outcome must equal what the world says mtasts_lookup_result()
gives with the library's default I/O (world.json "expect": status, mode,
mx, id, failure type), for every domain with an expectation (domains
without one are listed), including servers that never answer or trickle
(R8461-3.3-k): their deadlines end them while the loop goes on with the
others. The summary line gives the time of the whole run (a figure, not
judged). Standard library only.
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
from checks import Checks  # noqa: E402

PROG = sys.argv[1]
ENV = os.environ
# generous: under ASan every handshake of the run shares this one thread
TIMEOUT_MS = 8000
c = Checks()

world = json.load(open(ENV["MTASTS_WORLD"]))
covered, left_out = [], []
for d in world["domains"]:
    if not d["expect"]:
        left_out.append((d["name"], "no expectation"))
    else:
        covered.append(d)
names = [d["name"] for d in covered]

args = [PROG, "--resolver", ENV["MTASTS_WORLD_RESOLVER"],
        "--ca-file", ENV["MTASTS_WORLD_CA"],
        "--https-port", ENV["MTASTS_WORLD_HTTPS_PORT"],
        "--timeout-ms", str(TIMEOUT_MS)] + names
p = subprocess.run(args, capture_output=True, text=True, timeout=120,
                   check=False)
print(p.stderr, end="")
lines = p.stdout.splitlines()
c("exit status 0", p.returncode == 0, f"rc={p.returncode}")
c("a summary line", bool(lines) and lines[-1].endswith("one thread"),
        lines[-1] if lines else "no output")
print(lines[-1] if lines else "")

got = {}
for line in lines[:-1]:
    name, status, *rest = line.split(" ")
    fields = dict(f.split("=", 1) for f in rest if "=" in f)
    got[name] = {"status": status, **fields}
c("one line per domain", len(got) == len(names),
        f"{len(got)} lines for {len(names)} domains")

for d in covered:
    want, have = d["expect"], got.get(d["name"])
    if have is None:
        c(f"{d['name']}: has a result", False, "missing")
        continue
    detail = f"want {want}, got {have} ({d['case']})"
    ok = have["status"] in want["status"].split(" or ")
    if have["status"] == "MTASTS_OK" and "mode" in want:
        ok = ok and have.get("mode") == want["mode"] and \
            have.get("id") == want["id"] and \
            have.get("mx", "") == ",".join(want["mx"])
    elif "failure" in want:
        ok = ok and have.get("failure") == want["failure"]
    c(f"{d['name']}: {want['status']} "
            f"[{' '.join(d['checklist'])}]", ok, detail)

for name, why in left_out:
    print(f"left out: {name}: {why}")
sys.exit(c.finish())
