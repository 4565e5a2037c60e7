#!/usr/bin/python3
"""The mtasts Python binding against the loopback test world.

    tests/integration/run.py /usr/bin/python3 examples/python/test_world.py

run.py starts the world (nsd, nginx, SMTP servers, a test CA; see
tests/integration/README.md) and gives this program its addresses in
MTASTS_WORLD_* variables; MTASTS_LIBRARY names the library to load. meson
runs it in suite 'integration' when the world can run. Standard library
only.
"""

import os
import sys
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


if __name__ == "__main__":
    unittest.main()
