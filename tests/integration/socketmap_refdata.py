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
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import socketmap as sm  # noqa: E402  (its Daemon, Conn and check recorder)

TABLE = os.path.join(HERE, "..", "data", "socketmap_refdata.tsv")
PROFILES = {
    "refdata": "servername = no\n",
    "nosni": "servername = no\n",
    "strict": "strict-testing = yes\n",
}
check = sm.check


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


def run_profile(workdir, profile, table):
    conf = os.path.join(workdir, f"{profile}.conf")
    with open(conf, "w") as f:
        opts = PROFILES[profile]
        f.write(f"[zone test]\n{opts}[zone test2]\n{opts}")
    d = sm.Daemon(workdir, "--config", conf)
    c = d.connect()
    for n, _, origin, request, want in table:
        name, key = request.split(" ", 1)
        got = c.ask(key, name=name)
        check(f"{profile} line {n} ({origin}): {request!r} -> {want!r}",
              got == want, repr(got))
    c.close()
    check(f"{profile}: clean exit on SIGTERM", d.stop() == 0)
    text = d.stderr()
    check(f"{profile}: no sanitizer report",
          "Sanitizer" not in text and "runtime error" not in text,
          text[-2000:])


table = rows()
check("the table has rows for every profile",
      {r[1] for r in table} == set(PROFILES), str({r[1] for r in table}))
with tempfile.TemporaryDirectory() as d:
    for profile in PROFILES:
        run_profile(d, profile, [r for r in table if r[1] == profile])
sys.exit(check.finish())
