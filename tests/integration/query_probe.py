#!/usr/bin/env python3
"""Whole-domain checks in the test world: mtasts-query DOMAIN --probe and
examples/openssl-mta against the world's policies and SMTP servers.

    query_probe.py MTASTS-QUERY [OPENSSL-MTA]

Run through run.py (it needs the MTASTS_WORLD_* variables). The domains
(world.py full_domains, EXTRA_RECORDS):

    mxprobe.test    enforce, mx valid.mx.test and multiline.mx.test;
                    MX 10 valid, 20 wrongname, 30 nostarttls, 40 closed
    mxtesting.test  testing, mx wrongname.mx.test; MX 10 wrongname
    mxplain.test    no policy; MX 10 nostarttls

Prints one line per check and "N passed, N failed"; exits 1 on a failure.
Standard library only.
"""

import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from checks import Checks  # noqa: E402 (tests/checks.py)
from rpt_schema import schema_errors  # noqa: E402 (beside this file)

QUERY = sys.argv[1]
OPENSSL_MTA = sys.argv[2] if len(sys.argv) > 2 else None
ENV = os.environ
WORLD = [
    "--resolver", ENV["MTASTS_WORLD_RESOLVER"],
    "--ca-file", ENV["MTASTS_WORLD_CA"],
    "--https-port", ENV["MTASTS_WORLD_HTTPS_PORT"],
]
SMTP = ["--smtp-port", ENV["MTASTS_WORLD_SMTP_PORT"],
        "--smtp-timeout-ms", "3000"]
check = Checks()


def run(prog, *args):
    p = subprocess.run([prog, *args], capture_output=True, timeout=60)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def query(*args):
    rc, out, err = run(QUERY, "--json", *WORLD, *SMTP, "--probe", *args)
    try:
        return rc, json.loads(out), out + err
    except ValueError:
        return rc, None, out + err


def by_host(doc):
    return {m["host"]: m for m in doc["mx"]} if doc else {}


# mxprobe.test, enforce: one MX passes, the others are refused or unreachable
# (R8461-4-a, R8461-5-a, R8461-6-d, R8461-5.1-d).
rc, doc, raw = query("mxprobe.test")
mx = by_host(doc)
check("enforce: exit 3 when an MX is refused", rc == 3, f"rc={rc} {raw}")
check("enforce: the policy applies", doc is not None and
      doc["result"] == "policy" and doc["policy"]["mode"] == "enforce", raw)
check("enforce: MX in preference order", doc is not None and
      [m["host"] for m in doc["mx"]] == ["valid.mx.test", "wrongname.mx.test",
                                         "nostarttls.mx.test",
                                         "closed.mx.test"], raw)
v = mx.get("valid.mx.test", {})
check("enforce: valid MX delivers", v.get("matches") is True and
      v.get("tls") == "ok" and v.get("verdict") == "deliver" and
      v.get("reason") == "" and v.get("ip", "").startswith("127.0.0."), raw)
w = mx.get("wrongname.mx.test", {})
check("enforce: MX outside the policy with a wrong certificate is refused",
      w.get("matches") is False and
      w.get("tls") == "certificate-host-mismatch" and
      w.get("verdict") == "refuse" and w.get("reason_code") == "mx-mismatch",
      raw)
n = mx.get("nostarttls.mx.test", {})
check("enforce: no STARTTLS is refused", n.get("tls") ==
      "starttls-not-supported" and n.get("verdict") == "refuse", raw)
c = mx.get("closed.mx.test", {})
check("enforce: an unreachable MX has no TLS outcome and no verdict",
      c.get("tls") is None and c.get("verdict") is None and
      c.get("error", {}).get("code") == "MTASTS_ERR_CONNECT", raw)

# --mx picks the hosts instead of DNS.
rc, doc, raw = query("--mx", "valid.mx.test", "--mx", "MULTILINE.MX.TEST.",
                     "mxprobe.test")
check("--mx hosts that pass: exit 0", rc == 0, f"rc={rc} {raw}")
check("--mx hosts are probed as given", doc is not None and
      [(m["host"], m["verdict"]) for m in doc["mx"]] ==
      [("valid.mx.test", "deliver"), ("MULTILINE.MX.TEST.", "deliver")], raw)

# mxtesting.test, testing: deliver and report (R8461-5-b).
rc, doc, raw = query("mxtesting.test")
w = by_host(doc).get("wrongname.mx.test", {})
check("testing: exit 0", rc == 0, f"rc={rc} {raw}")
check("testing: a failing MX is deliver-and-report", w.get("matches") is True
      and w.get("tls") == "certificate-host-mismatch" and
      w.get("verdict") == "deliver-and-report" and
      w.get("reason_code") == "certificate-host-mismatch", raw)

# mxplain.test, no policy: the array is there, every verdict is deliver.
rc, doc, raw = query("mxplain.test")
n = by_host(doc).get("nostarttls.mx.test", {})
check("no policy: exit 1", rc == 1, f"rc={rc} {raw}")
check("no policy: the MX is probed and delivered to", doc is not None and
      doc["result"] == "no-policy" and n.get("matches") is False and
      n.get("tls") == "starttls-not-supported" and
      n.get("verdict") == "deliver", raw)

# A domain without MX records or address: mx_error, no probe.
rc, doc, raw = query("nxdomain-probe.test")
check("no such domain: mx_error and an empty mx array", doc is not None and
      doc["mx"] == [] and "NXDOMAIN" in doc.get("mx_error", ""), raw)

# Text output.
rc, out, err = run(QUERY, *WORLD, *SMTP, "--probe", "mxprobe.test")
check("text: one mx-probe line per MX", rc == 3 and
      "mx-probe valid.mx.test [127.0.0." in out and
      ": matches, tls ok, verdict deliver" in out and
      "mx-probe wrongname.mx.test [" in out and
      "does not match, tls certificate-host-mismatch, verdict refuse" in out
      and "mx-probe closed.mx.test: MTASTS_ERR_CONNECT" in out, out + err)

# --tlsrpt: the _smtp._tls record (R8460-3-b, -c, -d, -f).
rc, out, err = run(QUERY, "--resolver", ENV["MTASTS_WORLD_RESOLVER"],
                   "--tlsrpt", "mxprobe.test")
check("--tlsrpt: a record of two strings beside an SPF record", rc == 0 and
      out.splitlines() == ["domain: mxprobe.test", "tlsrpt: valid",
                           "rua: mailto:tlsrpt@mxprobe.test",
                           "rua: https://reports.mxprobe.test/v1"], out + err)
rc, out, err = run(QUERY, "--json", "--resolver", ENV["MTASTS_WORLD_RESOLVER"],
                   "--tlsrpt", "mxprobe.test")
check("--tlsrpt --json", rc == 0 and json.loads(out)["tlsrpt"]["rua"] == [
    {"uri": "mailto:tlsrpt@mxprobe.test", "scheme": "mailto"},
    {"uri": "https://reports.mxprobe.test/v1", "scheme": "https"}], out + err)
rc, out, err = run(QUERY, "--json", "--resolver", ENV["MTASTS_WORLD_RESOLVER"],
                   "--tlsrpt", "mxplain.test")
doc = json.loads(out) if out.startswith("{") else {}
check("--tlsrpt: only an ftp: rua is no usable record (exit 1)", rc == 1 and
      doc.get("error", {}).get("code") == "MTASTS_ERR_NO_TLSRPT", out + err)
rc, out, err = run(QUERY, "--json", "--resolver", ENV["MTASTS_WORLD_RESOLVER"],
                   "--tlsrpt", "mxtesting.test")
doc = json.loads(out) if out.startswith("{") else {}
check("--tlsrpt: a syntax error is exit 2 with its column", rc == 2 and
      doc.get("error", {}).get("code") == "MTASTS_ERR_SYNTAX" and
      doc["error"].get("column") == 12 and
      err.startswith("_smtp._tls.mxtesting.test:1:12: error:"), out + err)
rc, out, err = run(QUERY, "--resolver", ENV["MTASTS_WORLD_RESOLVER"],
                   "--tlsrpt", "valid.test")
check("--tlsrpt: no record (exit 1)", rc == 1 and "tlsrpt: none" in out,
      out + err)

# --probe --report FILE: the RFC 8460 §4 report of this run, checked
# against the schema with a real JSON parser (R8460-4-a..i).
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "report.json")
    rc, out, err = run(QUERY, *WORLD, *SMTP, "--probe", "--report", path,
                       "--report-org", "Example \"Sender\" Ltd",
                       "--report-contact", "tlsrpt@sender.test",
                       "mxprobe.test")
    try:
        with open(path, encoding="utf-8") as f:
            rep = json.load(f)
    except (OSError, ValueError) as e:
        rep = {"error": str(e)}
    check("--report: written, exit still 3", rc == 3 and "error" not in rep,
          f"rc={rc} {err} {rep}")
    errs = schema_errors(rep, "mxprobe.test")
    check("--report: fits the RFC 8460 schema", not errs, f"{errs} {rep}")
    pol = rep.get("policies", [{}])[0]
    check("--report: the sts policy as fetched", pol.get("policy", {}).get(
        "policy-string") == ["version: STSv1", "mode: enforce",
                             "mx: valid.mx.test", "mx: multiline.mx.test",
                             "max_age: 86400"] and
        pol["policy"].get("mx-host") == ["valid.mx.test",
                                         "multiline.mx.test"], str(pol))
    check("--report: one success, two failures (the closed MX is no session)",
          pol.get("summary") == {"total-successful-session-count": 1,
                                 "total-failure-session-count": 2}, str(pol))
    details = sorted((d["receiving-mx-hostname"], d["result-type"],
                      d["failure-reason-code"], d["failed-session-count"])
                     for d in pol.get("failure-details", []))
    check("--report: MX outside the policy as validation-failure mx-mismatch,"
          " with its TLS failure as a second entry (R8460-4-k)",
          details == [("nostarttls.mx.test", "starttls-not-supported",
                       "starttls-not-offered", 1),
                      ("nostarttls.mx.test", "validation-failure",
                       "mx-mismatch", 1),
                      ("wrongname.mx.test", "certificate-host-mismatch",
                       "certificate-host-mismatch", 1),
                      ("wrongname.mx.test", "validation-failure",
                       "mx-mismatch", 1)], str(details))
    check("--report: organization-name escaped and read back",
          rep.get("organization-name") == 'Example "Sender" Ltd' and
          rep.get("report-id", "").endswith(".mxprobe.test@sender.test"),
          str(rep))

    rc, out, err = run(QUERY, *WORLD, *SMTP, "--probe", "--report", path,
                       "mxtesting.test")
    with open(path, encoding="utf-8") as f:
        rep = json.load(f)
    d = rep["policies"][0]["failure-details"]
    check("--report: testing mode, certificate-host-mismatch", rc == 0 and
          not schema_errors(rep, "mxtesting.test") and len(d) == 1 and
          d[0]["result-type"] == "certificate-host-mismatch" and
          d[0]["receiving-ip"].startswith("127.0.0."), str(rep))

    rc, out, err = run(QUERY, *WORLD, *SMTP, "--probe", "--report", path,
                       "notfound.test")
    with open(path, encoding="utf-8") as f:
        rep = json.load(f)
    pol = rep["policies"][0]
    check("--report: a fetch failure is no-policy-found with "
          "sts-policy-fetch-error", rc == 2 and
          not schema_errors(rep, "notfound.test") and
          pol["policy"] == {"policy-type": "no-policy-found",
                            "policy-domain": "notfound.test"} and
          pol["failure-details"][0]["result-type"] ==
          "sts-policy-fetch-error" and
          pol["failure-details"][0].get("failure-reason-code") ==
          "http-status-404" and
          "receiving-mx-hostname" not in pol["failure-details"][0], str(rep))

# examples/openssl-mta: OpenSSL does STARTTLS, libmtasts judges the chain.
if OPENSSL_MTA:
    addrs = {}
    with open(ENV["MTASTS_WORLD"]) as f:
        for m in json.load(f)["mx_hosts"]:
            addrs[m["name"]] = m["addresses"]

    def mta(domain, host):
        ip = [a for a in addrs.get(host, []) if "." in a]
        return run(OPENSSL_MTA, "--ca-file", ENV["MTASTS_WORLD_CA"],
                   "--resolver", ENV["MTASTS_WORLD_RESOLVER"],
                   "--https-port", ENV["MTASTS_WORLD_HTTPS_PORT"],
                   "--port", ENV["MTASTS_WORLD_SMTP_PORT"],
                   "--connect", ip[0] if ip else "127.0.0.1", domain, host)

    rc, out, err = mta("mxprobe.test", "valid.mx.test")
    check("openssl-mta: valid MX delivers", rc == 0 and
          "policy: enforce" in out and "tls: ok" in out and
          "verdict: deliver" in out, out + err)
    rc, out, err = mta("mxprobe.test", "wrongname.mx.test")
    check("openssl-mta: MX outside the policy is refused", rc == 3 and
          "tls: certificate-host-mismatch" in out and
          "report: validation-failure mx-mismatch" in out and
          "verdict: refuse" in out, out + err)
    rc, out, err = mta("mxtesting.test", "wrongname.mx.test")
    check("openssl-mta: testing mode delivers and reports", rc == 0 and
          "verdict: deliver-and-report" in out, out + err)
    rc, out, err = mta("mxprobe.test", "nostarttls.mx.test")
    check("openssl-mta: no STARTTLS under enforce is refused", rc == 3 and
          "tls: starttls-not-supported" in out and "verdict: refuse" in out,
          out + err)
else:
    print("(openssl-mta not built: its checks skipped)")

sys.exit(check.finish())
