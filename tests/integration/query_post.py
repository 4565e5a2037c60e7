#!/usr/bin/env python3
"""TLS report delivery over HTTPS in the test world (RFC 8460 §5.4):
mtasts-query --probe --post-report URI against the world's report
receiver (world.py ReportReceiver: https://reports.rua.test:PORT, which
stores every request and answers /ok 201, /fail 500, /redirect 302).

    query_post.py MTASTS-QUERY

Run through run.py (it needs the MTASTS_WORLD_* variables, full profile).
Each check looks at what the receiver stored: the method, the media type,
a body that gunzips to a report that Python's json parses and that fits
the RFC 8460 §4.4 schema. Prints one line per check and "N passed, N
failed"; exits 1 on a failure. Standard library only.
"""

import base64
import gzip
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from checks import Checks  # noqa: E402 (tests/checks.py)
from rpt_schema import schema_errors  # noqa: E402 (beside this file)

QUERY = sys.argv[1]
ENV = os.environ
RUA = ENV["MTASTS_WORLD_RUA_URL"]
STORE = ENV["MTASTS_WORLD_RUA_DIR"]
WORLD = [
    "--resolver", ENV["MTASTS_WORLD_RESOLVER"],
    "--https-port", ENV["MTASTS_WORLD_HTTPS_PORT"],
    "--smtp-port", ENV["MTASTS_WORLD_SMTP_PORT"],
    "--smtp-timeout-ms", "3000", "--probe",
    "--report-org", "Example Sender", "--report-contact", "tlsrpt@sender.test",
]
check = Checks()


def stored():
    return sorted(n for n in os.listdir(STORE) if n.endswith(".json"))


def post(*args, ca=ENV["MTASTS_WORLD_CA"], domain="mxprobe.test"):
    """Run mtasts-query; the exit status, its stderr and the requests the
    receiver stored meanwhile (parsed)."""
    before = set(stored())
    p = subprocess.run([QUERY, *WORLD, "--ca-file", ca, *args, domain],
                       capture_output=True, timeout=120)
    new = []
    for name in stored():
        if name not in before:
            with open(os.path.join(STORE, name)) as f:
                new.append(json.load(f))
    return p.returncode, p.stderr.decode(), new


def report_of(req):
    """The request's body gunzipped and parsed, or an error text."""
    try:
        return json.loads(gzip.decompress(base64.b64decode(req["body"])))
    except (OSError, ValueError, KeyError) as e:
        return {"error": str(e)}


# 201: delivered (R8460-5.4-a, R8460-5.4-b); mxprobe.test has a refused MX,
# so the exit status stays 3
rc, err, reqs = post("--post-report", RUA + "/ok/in?x=1")
check("201: delivered", rc == 3 and "delivered (HTTP 201)" in err,
      f"rc={rc} {err}")
check("201: one request", len(reqs) == 1, reqs)
req = reqs[0] if reqs else {"fields": {}}
check("201: POST to the rua's target",
      req.get("method") == "POST" and req.get("target") == "/ok/in?x=1", req)
check("201: Content-Type application/tlsrpt+gzip",
      req["fields"].get("content-type") == "application/tlsrpt+gzip", req)
check("201: Host with the port",
      req["fields"].get("host") == RUA[len("https://"):], req)
rep = report_of(req)
errs = schema_errors(rep, "mxprobe.test")
check("201: the body gunzips to a report that fits the schema",
      "error" not in rep and not errs, f"{errs} {rep}")
check("201: the report counts this run's sessions",
      sum(p["summary"]["total-successful-session-count"] +
          p["summary"]["total-failure-session-count"]
          for p in rep.get("policies", [])) >= 1, rep)

# 500: a failure, exit 75 (R8460-5.4-b)
rc, err, reqs = post("--post-report", RUA + "/fail")
check("500: not delivered (exit 75)",
      rc == 75 and "MTASTS_ERR_PROTOCOL" in err and "HTTP status 500" in err,
      f"rc={rc} {err}")
check("500: the receiver got the report",
      len(reqs) == 1 and "error" not in report_of(reqs[0]), reqs)

# 302: a failure; the redirect is not followed (one request only)
rc, err, reqs = post("--post-report", RUA + "/redirect")
check("302: not delivered (exit 75)",
      rc == 75 and "HTTP status 302" in err and
      "redirects are not followed" in err, f"rc={rc} {err}")
check("302: not followed",
      [r.get("target") for r in reqs] == ["/redirect"], reqs)

# several rua: tried in turn until one accepts (R8460-3-g)
rc, err, reqs = post("--post-report", RUA + "/fail",
                     "--post-report", RUA + "/ok/second",
                     "--post-report", RUA + "/ok/third")
check("several rua: delivered by the second",
      rc == 3 and "delivered (HTTP 201)" in err and
      [r.get("target") for r in reqs] == ["/fail", "/ok/second"],
      f"rc={rc} {err} {reqs}")

# a certificate from an unknown CA: refused unless certificate errors are
# ignored (R8460-3-h, off by default); the policy lookup fails too, which
# is what the report then says
other = ENV["MTASTS_WORLD_OTHER_CA"]
rc, err, reqs = post("--post-report", RUA + "/ok/strict", ca=other)
check("unknown CA: refused (MTASTS_ERR_WEBPKI), nothing sent",
      rc == 75 and "MTASTS_ERR_WEBPKI" in err and not reqs,
      f"rc={rc} {err} {reqs}")
rc, err, reqs = post("--post-report", RUA + "/ok/insecure",
                     "--post-report-no-verify", ca=other)
rep = report_of(reqs[0]) if reqs else {}
check("unknown CA, --post-report-no-verify: delivered",
      "delivered (HTTP 201)" in err and len(reqs) == 1 and
      not schema_errors(rep, "mxprobe.test"), f"rc={rc} {err} {reqs}")
check("unknown CA: the report says sts-webpki-invalid",
      any(d.get("result-type") == "sts-webpki-invalid"
          for p in rep.get("policies", [])
          for d in p.get("failure-details", [])), rep)

# a URI that cannot be used: refused before any connection (exit 64)
for uri, what in (("http://reports.rua.test/ok", "not an https:// URI"),
                  (RUA.replace("https://", "https://u@") + "/ok",
                   "userinfo"),
                  (RUA + "/ok#f", "fragment")):
    rc, err, reqs = post("--post-report", uri)
    check(f"bad URI {uri}: exit 64, {what}",
          rc == 64 and "MTASTS_ERR_SYNTAX" in err and what in err and
          not reqs, f"rc={rc} {err} {reqs}")

sys.exit(check.finish())
