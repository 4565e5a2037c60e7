#!/usr/bin/python3
"""The mtasts Python binding against the loopback test world.

    tests/integration/run.py /usr/bin/python3 examples/python/test_world.py

run.py starts the world (nsd, nginx, SMTP servers, a test CA; see
tests/integration/README.md) and gives this program its addresses in
MTASTS_WORLD_* variables; MTASTS_LIBRARY names the library to load. meson
runs it in suite 'integration' when the world can run. Standard library
only.
"""

import json
import os
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import mtasts  # noqa: E402


def world_context(**options):
    env = os.environ
    return mtasts.Context(resolver=env["MTASTS_WORLD_RESOLVER"],
                          https_port=int(env["MTASTS_WORLD_HTTPS_PORT"]),
                          ca_file=env["MTASTS_WORLD_CA"],
                          dns_timeout_ms=2000, fetch_timeout_ms=5000,
                          smtp_timeout_ms=3000, **options)


class TestWorld(unittest.TestCase):

    def setUp(self):
        self.ctx = world_context()
        self.addCleanup(self.ctx.close)

    def test_valid_policy_then_cache(self):
        r = self.ctx.lookup("Valid.Test.")
        self.assertEqual(r.status, mtasts.Status.OK, r.reason)
        self.assertTrue(r.ok)
        self.assertEqual(r.domain, "valid.test")
        self.assertEqual(r.txt_id, "valid1")
        self.assertFalse(r.from_cache)
        self.assertEqual(r.failure, mtasts.RptResult.NONE)
        p = r.policy
        self.assertEqual(p.mode, mtasts.Mode.ENFORCE)
        self.assertEqual(p.mx, ("mail.valid.test", "*.backup.valid.test"))
        self.assertGreater(r.expires, 0)
        self.assertTrue(p.match_mx("mail.valid.test"))
        again = self.ctx.lookup("valid.test")
        self.assertTrue(again.from_cache)
        self.assertEqual(again.expires, r.expires)
        # The policy outlives its context: it holds its own reference.
        self.ctx.close()
        self.assertEqual(p.max_age, r.policy.max_age)
        self.assertIs(r.raise_for_status(), r)

    def test_failures_are_results(self):
        cases = [
            ("nxdomain.test", mtasts.Status.ERR_NO_POLICY,
             mtasts.RptResult.NONE, mtasts.NoPolicy),
            ("notfound.test", mtasts.Status.ERR_FETCH,
             mtasts.RptResult.STS_POLICY_FETCH_ERROR, mtasts.FetchError),
            ("expired.test", mtasts.Status.ERR_WEBPKI,
             mtasts.RptResult.STS_WEBPKI_INVALID, mtasts.WebPkiError),
            ("badpolicy.test", mtasts.Status.ERR_POLICY_INVALID,
             mtasts.RptResult.STS_POLICY_INVALID, mtasts.PolicyInvalid),
        ]
        for domain, status, failure, exc in cases:
            with self.subTest(domain=domain):
                r = self.ctx.lookup(domain)
                self.assertEqual(r.status, status, r.reason)
                self.assertEqual(r.failure, failure)
                self.assertIsNone(r.policy)
                self.assertTrue(r.reason)
                with self.assertRaises(exc):
                    r.raise_for_status()

    def test_probe_and_decide(self):
        r = self.ctx.lookup("mxprobe.test")
        self.assertTrue(r.ok, r.reason)
        port = int(os.environ["MTASTS_WORLD_SMTP_PORT"])
        good = self.ctx.probe_mx(r.policy, "valid.mx.test", port=port)
        self.assertEqual(good.status, mtasts.Status.OK, good.reason)
        self.assertTrue(good.matches)
        self.assertTrue(good.ip.startswith("127.0.0.") or good.ip == "::1")
        self.assertIs(mtasts.decide(r.policy, good.host, good),
                      mtasts.Verdict.DELIVER)
        # A policy of our own that covers every MX of the world.
        testing = mtasts.Policy("version: STSv1\nmode: testing\n"
                                "mx: *.mx.test\nmax_age: 86400\n")
        bad = self.ctx.probe_mx(testing, "expired.mx.test", port=port)
        self.assertEqual(bad.status, mtasts.Status.OK, bad.reason)
        self.assertTrue(bad.matches)
        self.assertEqual(bad.tls, mtasts.RptResult.CERTIFICATE_EXPIRED)
        self.assertEqual(bad.result, mtasts.RptResult.CERTIFICATE_EXPIRED)
        self.assertEqual(bad.reason_code, "certificate-expired")
        self.assertIs(mtasts.decide(testing, bad.host, bad),
                      mtasts.Verdict.DELIVER_REPORT)
        self.assertIs(mtasts.decide(r.policy, bad.host, bad),
                      mtasts.Verdict.REFUSE)

    def test_cache_save_load_and_store(self):
        store, puts = {}, []

        def put(domain, value, ttl_s):
            puts.append((domain, ttl_s))
            store[domain] = value
        self.ctx.set_store(store.get, put, lambda d: store.pop(d, None))
        r = self.ctx.lookup("valid.test")
        self.assertTrue(r.ok, r.reason)
        self.assertEqual(r.store_status, mtasts.Status.OK)
        # The fetched policy went to the store, as a cache file record.
        self.assertEqual([d for d, _ in puts], ["valid.test"])
        self.assertGreater(puts[0][1], 0)
        self.assertEqual(store["valid.test"][:3], b"MSR")
        [entry] = self.ctx.entries()
        self.assertEqual((entry.domain, entry.txt_id, entry.expires),
                         ("valid.test", "valid1", r.expires))
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "policies.cache")
            self.ctx.save(path)
            with world_context() as other:
                self.assertTrue(other.load(path))
                self.assertEqual([e[:6] for e in other.entries()],
                                 [entry[:6]])
                again = other.lookup("valid.test")
                self.assertTrue(again.from_cache, again.reason)
                self.assertEqual(again.policy.raw, r.policy.raw)
        # A node with an empty memory takes the policy from the store.
        with world_context() as node:
            node.set_store(store.get, put, lambda d: store.pop(d, None))
            shared = node.lookup("valid.test")
            self.assertTrue(shared.from_cache, shared.reason)
            self.assertEqual(shared.store_status, mtasts.Status.OK)
            self.assertEqual(len(puts), 1)      # no second fetch
        fresh = self.ctx.refresh("valid.test")
        self.assertTrue(fresh.ok, fresh.reason)
        self.assertEqual(fresh.txt_id, "valid1")
        self.ctx.remove("valid.test")
        self.assertEqual(store, {})
        self.assertEqual(self.ctx.entries(), [])

    def test_report_after_probes(self):
        r = self.ctx.lookup("mxprobe.test")
        self.assertTrue(r.ok, r.reason)
        port = int(os.environ["MTASTS_WORLD_SMTP_PORT"])
        now = int(time.time())
        for host in ("valid.mx.test", "wrongname.mx.test"):
            chk = self.ctx.probe_mx(r.policy, host, port=port)
            self.assertEqual(chk.status, mtasts.Status.OK, chk.reason)
            self.ctx.record(r, chk, "127.0.0.1")
        rep = json.loads(self.ctx.report_json("mxprobe.test", now, "Test",
                                              "tlsrpt@sender.test"))
        [pol] = rep["policies"]
        self.assertEqual(pol["policy"]["policy-domain"], "mxprobe.test")
        self.assertEqual(pol["summary"],
                         {"total-successful-session-count": 1,
                          "total-failure-session-count": 1})
        # wrongname.mx.test is outside the policy (validation-failure,
        # mx-mismatch) and its certificate names another host: two
        # entries for the one failed session (docs/report.md).
        got = {(d["result-type"], d["failure-reason-code"]): d
               for d in pol["failure-details"]}
        self.assertEqual(set(got), {
            ("validation-failure", "mx-mismatch"),
            ("certificate-host-mismatch", "certificate-host-mismatch")})
        for d in got.values():
            self.assertEqual(d["receiving-mx-hostname"], "wrongname.mx.test")
            self.assertEqual(d["sending-mta-ip"], "127.0.0.1")
            self.assertEqual(d["failed-session-count"], 1)
            self.assertIn("receiving-ip", d)
        msg = self.ctx.report_mail("mxprobe.test", now, "Test",
                                   "tlsrpt@sender.test",
                                   "mailto:tlsrpt@mxprobe.test")
        self.assertIn(b"TLS-Report-Domain: mxprobe.test\r\n", msg)

    def test_post_report(self):
        """RFC 8460 §5.4 against the world's receiver (world.py
        ReportReceiver): 201 delivered, 500 and 302 not."""
        rua = os.environ["MTASTS_WORLD_RUA_URL"]
        r = self.ctx.lookup("mxprobe.test")
        self.assertTrue(r.ok, r.reason)
        port = int(os.environ["MTASTS_WORLD_SMTP_PORT"])
        chk = self.ctx.probe_mx(r.policy, "valid.mx.test", port=port)
        self.ctx.record(r, chk, "127.0.0.1")
        args = ("mxprobe.test", int(time.time()), "Test",
                "tlsrpt@sender.test")
        out = self.ctx.post_report(*args, rua + "/ok/python")
        self.assertTrue(out.ok, out)
        self.assertEqual(out.http_status, 201)
        out = self.ctx.post_report(*args, rua + "/fail")
        self.assertEqual(out.status, mtasts.Status.ERR_PROTOCOL)
        self.assertEqual(out.http_status, 500)
        with self.assertRaises(mtasts.ProtocolError):
            out.raise_for_status()
        out = self.ctx.post_report(*args, rua + "/redirect")
        self.assertEqual(out.http_status, 302)
        self.assertIn("redirects are not followed", out.reason)


if __name__ == "__main__":
    unittest.main()
