#!/usr/bin/env python3
"""Tests of mtasts-query in offline mode: outputs, JSON and exit statuses.

Usage: test_mtasts_query.py PATH-TO-mtasts-query EXAMPLES-POLICIES-DIR
Prints one line per case and a summary; exits 1 if any case failed.
"""
import json
import os
import subprocess
import sys
import tempfile

QUERY, POLICIES = sys.argv[1], sys.argv[2]
failures = []
count = 0


def run(*args, stdin=None):
    p = subprocess.run([QUERY, *args], input=stdin, capture_output=True,
                       timeout=30)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def check(name, cond, detail=""):
    global count
    count += 1
    print(("ok   " if cond else "FAIL ") + name + ("" if cond else ": " + detail))
    if not cond:
        failures.append(name)


example = os.path.join(POLICIES, "example.com.txt")
crlf = os.path.join(POLICIES, "testing-crlf.txt")
bad = os.path.join(POLICIES, "invalid-trailing-dot.txt")

# A valid policy, text output (golden example RFC 8461 section 3.2).
rc, out, err = run("--policy-file", example)
check("valid policy exits 0", rc == 0, f"rc={rc} err={err}")
check("valid policy text", out.splitlines() == [
    "policy: valid", "version: STSv1", "mode: enforce", "max_age: 604800",
    "mx: mail.example.com", "mx: *.example.net", "mx: backupmx.example.com"],
    out)

rc, out, _ = run("--policy-file", crlf)
check("CRLF policy valid", rc == 0 and "mode: testing" in out, out)

# MX matching: exit 1 when a host does not match (R8461-4.1-a, -b).
rc, out, _ = run("--policy-file", example, "--mx", "MAIL.Example.COM.",
                 "--mx", "x.example.net")
check("matching hosts exit 0", rc == 0, f"rc={rc}")
check("match lines", "mx-check MAIL.Example.COM.: matches" in out
      and "mx-check x.example.net: matches" in out, out)
rc, out, _ = run("--policy-file", example, "--mx", "a.b.example.net")
check("two-label wildcard mismatch exits 1", rc == 1, f"rc={rc}")
check("mismatch line", "mx-check a.b.example.net: does not match" in out, out)
rc, out, _ = run("--policy-file", example, "--mx", "b\u00fccher.example.net")
check("U-label host is an invalid host name", rc == 1
      and "invalid host name" in out and "A-labels" in out, out)

# JSON for a valid policy.
rc, out, _ = run("--json", "--policy-file", example, "--mx",
                 "mail.example.com", "--mx", "other.example.org")
doc = json.loads(out)
check("json valid policy", doc["valid"] is True and
      doc["policy"] == {"version": "STSv1", "mode": "enforce",
                        "max_age": 604800, "warnings": [],
                        "mx": ["mail.example.com", "*.example.net",
                               "backupmx.example.com"]}, out)
check("json mx array", doc["mx"] == [
    {"host": "mail.example.com", "matches": True},
    {"host": "other.example.org", "matches": False}], out)
check("json mismatch exits 1", rc == 1, f"rc={rc}")

# An invalid policy: compiler-style diagnostic, status 2.
rc, out, err = run("--policy-file", bad)
check("invalid policy exits 2", rc == 2, f"rc={rc}")
check("invalid policy diagnostic", err.startswith(bad + ":3:21: error: "), err)
check("invalid policy status line",
      out.strip() == "policy: invalid (MTASTS_ERR_SYNTAX)", out)
rc, out, _ = run("--json", "--policy-file", bad)
doc = json.loads(out)
check("json error object", doc["valid"] is False and
      doc["error"]["status"] == "MTASTS_ERR_SYNTAX" and
      doc["error"]["line"] == 3 and doc["error"]["column"] == 21 and
      doc["error"]["offset"] == 49 and doc["error"]["message"], out)

# Standard input, warnings, and the size limit.
rc, out, _ = run("--json", "--policy-file", "-", stdin=(
    b"version: STSv1\nmode: none\nmax_age: 99999999\n\n"))
doc = json.loads(out)
check("stdin policy with warnings", rc == 0 and doc["policy"]["warnings"] ==
      ["max_age_clamped", "trailing_empty_lines"] and
      doc["policy"]["max_age"] == 31557600 and doc["policy"]["mx"] == [], out)
big = b"version: STSv1\nmode: none\nmax_age: 1\nx: " + b"a" * 65536 + b"\n"
rc, out, err = run("--json", "--policy-file", "-", stdin=big)
doc = json.loads(out)
check("policy over 64 KiB exits 2", rc == 2 and
      doc["error"]["status"] == "MTASTS_ERR_TOO_LARGE", out + err)
rc, out, _ = run("--json", "--policy-file", "-", stdin=b"version: STSv1\n"
                 b"mode: enforce\nmax_age: 1\nmx: a.example\nx: \xff\n")
doc = json.loads(out)
check("ill-formed UTF-8 reported as JSON", rc == 2 and
      doc["error"]["line"] == 5 and doc["error"]["column"] == 4, out)

# TXT records (R8461-3.1-f, -g).
rc, out, _ = run("--txt", "v=STSv1; id=20160831085700Z;")
check("valid txt", rc == 0 and out.splitlines() ==
      ["txt: valid", "id: 20160831085700Z"], out)
rc, out, _ = run("--json", "--txt", "v=STSv1; id=abc")
check("json txt", rc == 0 and json.loads(out) ==
      {"valid": True, "txt": {"id": "abc"}}, out)
rc, out, err = run("--txt", "v=STSv1; id=2016-08-31")
check("invalid txt exits 2", rc == 2 and err.startswith("txt:1:17: error:")
      and "txt: invalid (MTASTS_ERR_SYNTAX)" in out, out + err)

# Usage errors and unreadable files.
# (No case here makes a network lookup: DOMAIN runs are integration tests
# against the loopback world in tests/integration.)
for args in ([], ["--txt"], ["--policy-file"], ["--resolver"],
             ["--bogus"], ["--txt", "v=STSv1; id=1", "--policy-file", example],
             ["--txt", "v=STSv1; id=1", "--mx", "a.example"],
             ["--policy-file", example, "--policy-file", example],
             ["a.example", "b.example"], ["a.example", "--txt", "v=STSv1; id=1"],
             ["--policy-file", example, "--resolver", "127.0.0.1"],
             ["--https-port", "0", "a.example"],
             ["--https-port", "65536", "a.example"],
             ["--timeout-ms", "x", "a.example"],
             ["--probe", "--policy-file", example],
             ["--probe", "--txt", "v=STSv1; id=1"],
             ["--smtp-port", "25", "--policy-file", example],
             ["--smtp-port", "0", "--probe", "a.example"],
             ["--smtp-port", "65536", "--probe", "a.example"],
             ["--smtp-timeout-ms", "0", "--probe", "a.example"],
             ["--smtp-timeout-ms", "600001", "--probe", "a.example"],
             ["--helo", "--probe", "a.example"],
             ["--probe", "a.example", "--helo"],
             ["--helo", "bad..name", "--probe", "a.example"],
             ["--helo", "[192.0.2.1]", "--probe", "a.example"],
             ["--report", "/tmp/x.json", "a.example"],
             ["--report-org", "o", "a.example"],
             ["--report-contact", "a@b.example", "a.example"],
             ["--probe", "a.example", "--report"],
             ["--tlsrpt"],
             ["--tlsrpt", "--probe", "a.example"],
             ["--tlsrpt", "--mx", "mx.a.example", "a.example"],
             ["--tlsrpt", "--ca-file", "/dev/null", "a.example"],
             ["--tlsrpt", "[192.0.2.1]"],
             ["--tlsrpt", "--policy-file", example]):
    rc, out, err = run(*args)
    check("usage error for " + repr(args), rc == 64 and "usage" not in out
          and "mtasts-query:" in err, f"rc={rc} err={err}")
rc, out, _ = run("--help")
check("--help exits 0", rc == 0 and out.startswith("usage: mtasts-query"), out)
rc, out, _ = run("--version")
check("--version", rc == 0 and out.startswith("mtasts-query (libmtasts) "), out)
if os.path.exists("/dev/full"):
    with open("/dev/full", "wb") as full:
        p = subprocess.run([QUERY, "--policy-file", example], stdout=full,
                           stderr=subprocess.PIPE, timeout=30)
    check("write error exits 74", p.returncode == 74
          and b"write error" in p.stderr, f"rc={p.returncode}")
with tempfile.TemporaryDirectory() as d:
    rc, _, err = run("--policy-file", os.path.join(d, "missing.txt"))
    check("missing file exits 66", rc == 66 and "No such file" in err, err)
    rc, _, err = run("--policy-file", d)
    check("directory exits 66", rc == 66, f"rc={rc} err={err}")

print(f"{count - len(failures)} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
