#!/usr/bin/env python3
"""mtasts-socketmap against the Python daemon's reference tables (run by
run.py).

Usage: run.py socketmap_refdata.py PATH-TO-mtasts-socketmap

tests/data/socketmap_refdata.tsv holds the requests and answers of
postfix-mta-sts-resolver's own tables (tests/refdata*.tsv), adapted to the
loopback world's domains. For each profile one daemon runs with zones
"test" and "test2" set as the profile says (refdata and nosni: servername
= no; strict: strict-testing = yes), every row is asked on one persistent
connection, and the answer must be byte-identical, trailing space
included (issue 7, part 1). Standard library only.
"""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from checks import Checks  # noqa: E402

DAEMON = sys.argv[1]
ENV = os.environ
TABLE = os.path.join(HERE, "..", "data", "socketmap_refdata.tsv")
PROFILES = {
    "refdata": "servername = no\n",
    "nosni": "servername = no\n",
    "strict": "strict-testing = yes\n",
}
check = Checks()


def rows():
    out = []
    with open(TABLE, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            profile, origin, request, answer = line.split("\t")
            out.append((n, profile, origin, request,
                        answer.replace("\\s", " ")))
    return out


def netstring(payload):
    data = payload.encode()
    return str(len(data)).encode() + b":" + data + b","


def ask(sock, buf, request):
    sock.sendall(netstring(request))
    while True:
        colon = buf.find(b":")
        if colon > 0:
            n = int(buf[:colon])
            if len(buf) >= colon + n + 2:
                return buf[colon + 1:colon + 1 + n].decode(), buf[colon + n + 2:]
        data = sock.recv(65536)
        if not data:
            return None, buf
        buf += data


def run_profile(workdir, profile, table):
    conf = os.path.join(workdir, f"{profile}.conf")
    with open(conf, "w") as f:
        opts = PROFILES[profile]
        f.write(f"[zone test]\n{opts}[zone test2]\n{opts}")
    log = os.path.join(workdir, f"{profile}.log")
    argv = [DAEMON, "--listen", "127.0.0.1:0", "--config", conf,
            "--resolver", ENV["MTASTS_WORLD_RESOLVER"],
            "--ca-file", ENV["MTASTS_WORLD_CA"],
            "--https-port", ENV["MTASTS_WORLD_HTTPS_PORT"]]
    with open(log, "w") as f:
        proc = subprocess.Popen(argv, stderr=f)
    try:
        port = None
        end = time.monotonic() + 10
        while port is None and time.monotonic() < end and proc.poll() is None:
            for line in open(log).read().splitlines():
                if "listening on " in line:
                    port = int(line.rsplit(":", 1)[1])
            time.sleep(0.02)
        check(f"{profile}: the daemon listens", port is not None,
              open(log).read())
        if port is None:
            return
        sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        buf = b""
        for n, _, origin, request, want in table:
            got, buf = ask(sock, buf, request)
            check(f"{profile} line {n} ({origin}): {request!r} -> {want!r}",
                  got == want, repr(got))
        sock.close()
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
        check(f"{profile}: clean exit on SIGTERM", rc == 0, rc)
        text = open(log).read()
        check(f"{profile}: no sanitizer report",
              "ERROR: AddressSanitizer" not in text and
              "runtime error:" not in text, text[-2000:])


table = rows()
check("the table has rows for every profile",
      {r[1] for r in table} == set(PROFILES), str({r[1] for r in table}))
with tempfile.TemporaryDirectory() as d:
    for profile in PROFILES:
        run_profile(d, profile, [r for r in table if r[1] == profile])
sys.exit(check.finish())
