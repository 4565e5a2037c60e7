#!/usr/bin/env python3
"""Tests of mtasts-query in offline mode: outputs, JSON and exit statuses.

Usage: test_mtasts_query.py PATH-TO-mtasts-query EXAMPLES-POLICIES-DIR
Prints one line per case and a summary; exits 1 if any case failed.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile
import time
import zlib

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

# --cache FILE --list / --purge, offline, on a file written here by the
# format of docs/cache-format.md (DOMAIN runs with --cache are in
# tests/integration/query_cache.py).
def cache_record(domain, txt_id, policy, fetched, max_age, used):
    body = struct.pack(">qqqBBI", fetched, fetched + max_age, used,
                       len(domain), len(txt_id), len(policy))
    data = (b"MSR\x01" + struct.pack(">I", 8 + len(body) + len(domain)
                                     + len(txt_id) + len(policy) + 4)
            + body + domain + txt_id + policy)
    return data + struct.pack(">I", zlib.crc32(data))


now = int(time.time())
pol = b"version: STSv1\nmode: enforce\nmx: mx.b.example\nmax_age: 86400\n"
recs = [cache_record(b"b.example", b"id2", pol, now - 60, 86400, now - 30),
        cache_record(b"a.example", b"id1", pol.replace(b"enforce", b"testing"),
                     now - 120, 86400, now - 100)]
with tempfile.TemporaryDirectory() as d:
    cache = os.path.join(d, "cache")
    rc, out, err = run("--cache", cache, "--list")
    check("--list of a missing file is empty", rc == 0 and out == "",
          f"rc={rc} out={out} err={err}")
    rc, out, _ = run("--json", "--cache", cache, "--list")
    check("--json --list of a missing file", rc == 0 and json.loads(out) ==
          {"cache": cache, "entries": []}, out)
    with open(cache, "wb") as f:
        f.write(b"\x89MTSC\r\n\x1a" + struct.pack(">HHI", 1, 0, 2)
                + b"".join(recs))
    rc, out, err = run("--cache", cache, "--list")
    lines = out.splitlines()
    check("--list text, sorted", rc == 0 and len(lines) == 2
          and lines[0].startswith("a.example id=id1 mode=testing fetched=")
          and lines[1].startswith("b.example id=id2 mode=enforce ")
          and "expires=" in lines[1] and "last-used=" in lines[1], out + err)
    rc, out, _ = run("--json", "--cache", cache, "--list")
    got = json.loads(out)["entries"] if rc == 0 else []
    check("--json --list", len(got) == 2 and got[1] == {
        "domain": "b.example", "txt_id": "id2", "mode": "enforce",
        "fetched_at": now - 60, "expires": now - 60 + 86400,
        "last_used": now - 30, "mx": ["mx.b.example"]}, out)
    rc, out, _ = run("--cache", cache, "--purge", "B.Example.")
    check("--purge removes", rc == 0 and out == "B.Example.: removed\n", out)
    rc, out, _ = run("--cache", cache, "--purge", "b.example")
    check("--purge of an uncached domain exits 1",
          rc == 1 and "not cached" in out, f"rc={rc} {out}")
    rc, out, _ = run("--cache", cache, "--list")
    check("--purge saved the file", rc == 0 and
          out.startswith("a.example ") and out.count("\n") == 1, out)
    rc, out, err = run("--cache", cache, "--purge", "[192.0.2.1]")
    check("--purge of a bad name is a usage error", rc == 64, f"rc={rc}")
    with open(cache, "r+b") as f:
        f.seek(-1, 2)
        last = f.read(1)
        f.seek(-1, 2)
        f.write(bytes([last[0] ^ 1]))
    rc, out, err = run("--cache", cache, "--list")
    check("corrupt cache file exits 65 with the fault", rc == 65
          and "record checksum mismatch" in err
          and "MTASTS_ERR_CACHE_CORRUPT" in err, f"rc={rc} err={err}")
    rc, out, err = run("--cache", cache, "a.example")
    check("DOMAIN with a corrupt cache exits 65 before any lookup",
          rc == 65, f"rc={rc} err={err}")
    with open(cache, "wb") as f:
        f.write(b"not a cache file at all")
    rc, out, err = run("--cache", cache, "--list")
    check("not a cache file exits 65", rc == 65 and "bad magic" in err
          and "MTASTS_ERR_CACHE_FORMAT" in err, err)
    rc, out, err = run("--cache", d, "--list")
    check("a directory as cache exits 66", rc == 66, f"rc={rc} err={err}")
    rc, out, err = run("--cache", os.path.join(d, "no", "dir"), "--purge",
                       "a.example")
    check("--purge of a missing file: not cached", rc == 1, f"rc={rc}")
for args in (["--list"], ["--purge", "a.example"], ["--cache", "f"],
             ["--cache", "f", "--list", "a.example"],
             ["--cache", "f", "--list", "--purge", "a.example"],
             ["--cache", "f", "--list", "--resolver", "127.0.0.1"],
             ["--cache", "f", "--list", "--mx", "mx.example"],
             ["--cache", "f", "--txt", "v=STSv1; id=1"], ["--cache"]):
    rc, out, err = run(*args)
    check("usage error for " + repr(args), rc == 64 and "mtasts-query:" in err,
          f"rc={rc} err={err}")

print(f"{count - len(failures)} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
