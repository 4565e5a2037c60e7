#!/usr/bin/env python3
"""Checks a TLS report in its three forms with real parsers (Python's json,
gzip and email): the JSON against RFC 8460 §4.4, the gzip body and its file
name (§5.1, §5.2), and the mail message (§5.3, A.7). Standard library only.

    check_report_mail.py REPORT_SAMPLE   (runs it in a temporary directory)
"""
import email
import email.policy
import gzip
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from checks import Checks  # noqa: E402 (tests/checks.py)

check = Checks()


with tempfile.TemporaryDirectory() as d:
    subprocess.run([sys.argv[1], d], check=True, timeout=60)
    raw = open(os.path.join(d, "report.json"), "rb").read()
    gz = open(os.path.join(d, "report.json.gz"), "rb").read()
    name = open(os.path.join(d, "name")).read()
    eml = open(os.path.join(d, "report.eml"), "rb").read()

rep = json.loads(raw.decode("utf-8"))  # R8460-4-a: UTF-8 JSON
check("json: the schema's top-level members (R8460-4-b)", set(rep) == {
    "organization-name", "date-range", "contact-info", "report-id",
    "policies"}, str(rep))
check("json: UTF-8 organization-name read back",
      rep["organization-name"] == "Example Sender \u2014 Mail", str(rep))
check("json: the day 2026-01-01 (R8460-4.1-a)", rep["date-range"] == {
    "start-datetime": "2026-01-01T00:00:00Z",
    "end-datetime": "2026-01-01T23:59:59Z"}, str(rep))
p = rep["policies"]
check("json: one sts policy (R8460-4-c, -d)", len(p) == 1 and
      p[0]["policy"]["policy-type"] == "sts" and
      p[0]["policy"]["mx-host"] == ["mx.example.net"] and
      p[0]["policy"]["policy-string"] == ["version: STSv1", "mode: enforce",
                                          "mx: mx.example.net",
                                          "max_age: 86400"], str(p))
check("json: summary counts are integers (R8460-4-f)",
      p[0]["summary"] == {"total-successful-session-count": 7,
                          "total-failure-session-count": 3}, str(p))
fd = {(x["result-type"], x["receiving-ip"]): x
      for x in p[0]["failure-details"]}
check("json: IPv6 in RFC 5952 form, integer counts (R8460-4-g, -j)",
      fd.get(("certificate-expired", "2001:db8::25"), {}).get(
          "failed-session-count") == 2 and
      fd.get(("validation-failure", "192.0.2.26"), {}).get(
          "failure-reason-code") == "mx-mismatch", str(fd))

check("gzip: magic bytes and the same JSON (R8460-5.2-a)",
      gz[:2] == b"\x1f\x8b" and gzip.decompress(gz) == raw, repr(gz[:4]))
m = re.fullmatch(r"([a-z0-9.-]+)!([a-z0-9.-]+)!(\d+)!(\d+)\.json\.gz", name)
check("file name fits §5.1 and agrees with the JSON (R8460-5.1-a, -5.6-a)",
      m is not None and m.group(1) == "mail.sender.example" and
      m.group(2) == "example.net" and m.group(3) == "1767225600" and
      m.group(4) == "1767311999", name)

check("mail: CRLF line ends only",
      b"\n" not in eml.replace(b"\r\n", b""), "bare LF")
msg = email.message_from_bytes(eml, policy=email.policy.default)
check("mail: TLS-Report-* fields (R8460-5.3-b)",
      msg["TLS-Report-Domain"] == "example.net" and
      msg["TLS-Report-Submitter"] == "mail.sender.example", str(msg.items()))
check("mail: From is contact-info, To is the decoded rua address",
      msg["From"].addresses[0].addr_spec == rep["contact-info"] and
      msg["To"].addresses[0].addr_spec == "tls+reports@example.net",
      f"{msg['From']} {msg['To']}")
subject = " ".join(str(msg["Subject"]).split())
check("mail: Subject per A.7 with the report-id (R8460-5.3-d, E-26)",
      re.fullmatch(r"Report Domain: example\.net Submitter: "
                   r"mail\.sender\.example Report-ID: <([^<>@]+)@([^<>@]+)>",
                   subject) is not None and
      f"<{rep['report-id']}>" in subject, subject)
check("mail: Date and Message-ID present", msg["Date"] is not None and
      msg["Date"].datetime.year == 2026 and
      re.fullmatch(r"<[^<>@]+@[^<>@]+>", str(msg["Message-ID"])) is not None,
      f"{msg['Date']} {msg['Message-ID']}")
check("mail: multipart/report; report-type=tlsrpt (R8460-5.3-a)",
      msg.get_content_type() == "multipart/report" and
      msg.get_param("report-type") == "tlsrpt", msg.get_content_type())
parts = list(msg.iter_parts())
check("mail: a text/plain part then the report part",
      [x.get_content_type() for x in parts] ==
      ["text/plain", "application/tlsrpt+gzip"],
      str([x.get_content_type() for x in parts]))
if len(parts) == 2:
    check("mail: the attachment's file name and content",
          parts[1].get_filename() == name and
          gzip.decompress(parts[1].get_payload(decode=True)) == raw,
          str(parts[1].get_filename()))
    check("mail: base64 lines of at most 76 characters",
          all(len(line) <= 76 for line in
              parts[1].get_payload().splitlines()), "long line")

sys.exit(check.finish())
