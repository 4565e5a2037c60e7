#!/usr/bin/env python3
"""examples/fork-mta against the loopback world (run by run.py).

Usage: run.py fork_mta.py PATH-TO-fork-mta

A fork-per-delivery MTA shares policies between its processes through the
example's directory store (docs/integration-fork.md):
  1. one delivery process looks up valid.test and testing.test: fetched
     (from_cache=0), and the store holds one file per domain, mode 0600,
     whose time is the policy's expiry;
  2. four processes at once, with the HTTPS port pointing where nothing
     listens: every one still gets both policies, from the store
     (from_cache=1, store=MTASTS_OK) after the TXT id check, so no fetch
     was needed (R8461-3.3-m: a known id is not fetched again);
  3. a damaged file in the store (one byte changed): the lookup refuses
     it (store=MTASTS_ERR_CACHE_CORRUPT) and fetches again, so a damaged
     store never gives a wrong policy, and the fetch repairs the file;
  4. a domain without a policy leaves no file.
Standard library only.
"""
import os
import socket
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
from checks import Checks  # noqa: E402

PROG = sys.argv[1]
ENV = os.environ
c = Checks()


def dead_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(store, children, domains, port=None):
    args = [PROG, "--store", store, "--children", str(children),
            "--resolver", ENV["MTASTS_WORLD_RESOLVER"],
            "--ca-file", ENV["MTASTS_WORLD_CA"],
            "--https-port", str(port or ENV["MTASTS_WORLD_HTTPS_PORT"])]
    p = subprocess.run(args + domains, capture_output=True, text=True,
                       timeout=120, check=False)
    print(p.stdout + p.stderr, end="")
    rows = []
    for line in p.stdout.splitlines():
        f = line.split()
        rows.append({"child": f[1], "domain": f[2], "status": f[3],
                     **dict(x.split("=", 1) for x in f[4:] if "=" in x)})
    return p.returncode, rows


with tempfile.TemporaryDirectory() as d:
    store = os.path.join(d, "policies")
    rc, rows = run(store, 1, ["valid.test", "testing.test", "nxdomain.test"])
    c("first delivery: exit 0 and three results", rc == 0 and len(rows) == 3,
      f"rc={rc} rows={rows}")
    fetched = {r["domain"]: r for r in rows}
    c("first delivery: valid.test fetched (not from a cache)",
      fetched.get("valid.test", {}).get("status") == "MTASTS_OK"
      and fetched["valid.test"].get("from_cache") == "0"
      and fetched["valid.test"].get("store") == "MTASTS_OK", str(fetched))
    files = sorted(f for f in os.listdir(store) if not f.startswith("."))
    c("the store holds one file per policy, none for nxdomain.test",
      files == ["testing.test", "valid.test"], str(files))
    st = os.stat(os.path.join(store, "valid.test"))
    c("store file mode 0600", stat.S_IMODE(st.st_mode) == 0o600,
      oct(st.st_mode))
    c("store file time is the policy's expiry (in the future)",
      st.st_mtime > time.time() + 3600, f"{st.st_mtime} vs {time.time()}")
    c("no temporary file left", not [f for f in os.listdir(store)
                                     if f.startswith(".tmp")],
      str(os.listdir(store)))

    rc, rows = run(store, 4, ["valid.test", "testing.test"], dead_port())
    c("four deliveries, HTTPS unreachable: exit 0, eight results",
      rc == 0 and len(rows) == 8, f"rc={rc} rows={len(rows)}")
    good = [r for r in rows if r["status"] == "MTASTS_OK"
            and r.get("from_cache") == "1" and r.get("store") == "MTASTS_OK"]
    c("every delivery got both policies from the store [R8461-3.3-m]",
      len(good) == 8, str(rows))
    c("the modes are the published ones",
      {(r["domain"], r.get("mode")) for r in good}
      == {("valid.test", "enforce"), ("testing.test", "testing")}, str(good))

    path = os.path.join(store, "valid.test")
    data = bytearray(open(path, "rb").read())
    data[len(data) // 2] ^= 0x01
    open(path, "wb").write(bytes(data))
    rc, rows = run(store, 1, ["valid.test"])
    r = rows[0] if rows else {}
    c("a damaged store record is refused and the policy fetched again",
      rc == 0 and r.get("status") == "MTASTS_OK"
      and r.get("store") == "MTASTS_ERR_CACHE_CORRUPT"
      and r.get("from_cache") == "0", str(rows))
    rc, rows = run(store, 1, ["valid.test"], dead_port())
    r = rows[0] if rows else {}
    c("the fetch repaired the store record",
      r.get("status") == "MTASTS_OK" and r.get("from_cache") == "1"
      and r.get("store") == "MTASTS_OK", str(rows))

sys.exit(c.finish())
