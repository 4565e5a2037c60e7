#!/usr/bin/python3
"""Tests of the mtasts Python binding against the built libmtasts.

    MTASTS_LIBRARY=/path/to/libmtasts.so.1 python3 test_mtasts.py [-v]

Standard library only (unittest). Nothing leaves the machine: parsing is
offline, MX certificates are made by tests/unit/gen_mx_certs.py (needs
python3-cryptography) into a temporary directory, and the one lookup asks
a loopback UDP port that never answers. meson runs this file in suite
'examples' (examples/python/meson.build).
"""

import ctypes
import doctest
import gc
import os
import pathlib
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import weakref

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import mtasts  # noqa: E402

SOURCE_ROOT = os.path.dirname(os.path.dirname(HERE))
GEN_MX_CERTS = os.path.join(SOURCE_ROOT, "tests", "unit", "gen_mx_certs.py")
#: gen_mx_certs.py's reference time: 2026-01-01T00:00:00Z.
NOW = 1767225600

POLICY = (b"version: STSv1\r\n"
          b"mode: enforce\r\n"
          b"mx: mx.example.com\r\n"
          b"mx: *.example.net\r\n"
          b"max_age: 86400\r\n")


def policy(mode="enforce", mx=("mx.example.com",)):
    text = f"version: STSv1\nmode: {mode}\n"
    text += "".join(f"mx: {m}\n" for m in mx)
    return mtasts.Policy(text + "max_age: 604800\n")


class TestVersionAndStatuses(unittest.TestCase):

    def test_version_matches_string(self):
        major, minor, patch = mtasts.version()
        self.assertEqual(mtasts.version_string(), f"{major}.{minor}.{patch}")
        self.assertGreaterEqual((major, minor, patch), (0, 1, 0))

    def test_library_is_the_one_asked_for(self):
        want = os.environ.get("MTASTS_LIBRARY")
        if want:
            self.assertEqual(mtasts.library_path, want)
        else:
            self.assertIn("mtasts", mtasts.library_path)

    def test_status_values_match_library_names(self):
        # The binding mirrors the enum; the library names each value.
        for s in mtasts.Status:
            self.assertEqual(mtasts.status_name(s), "MTASTS_" + s.name)
            self.assertEqual(s.label, "MTASTS_" + s.name)
        self.assertEqual(mtasts.status_name(-9999), "MTASTS_UNKNOWN")
        self.assertEqual(mtasts.strerror(-9999), "unknown status")
        self.assertEqual(mtasts.strerror(0), "success")

    def test_mirrored_enums_match_library_names(self):
        self.assertEqual([str(m) for m in mtasts.Mode],
                         ["none", "testing", "enforce"])
        self.assertEqual(str(mtasts.Verdict.DELIVER_REPORT),
                         "deliver-and-report")
        for v in mtasts.Verdict:
            self.assertEqual(str(v), v.name.lower().replace(
                "deliver_report", "deliver-and-report"))
        for r in mtasts.RptResult:
            self.assertEqual(str(r), r.name.lower().replace("_", "-"))
        self.assertEqual(str(mtasts.RuaScheme.HTTPS), "https")

    def test_predicates(self):
        S = mtasts.Status
        temporary = {S.ERR_NOMEM, S.ERR_DNS_TEMPFAIL, S.ERR_FETCH,
                     S.ERR_WEBPKI, S.ERR_POLICY_INVALID, S.ERR_CONNECT,
                     S.ERR_TIMEOUT, S.ERR_PROTOCOL, S.ERR_STORE}
        bad_input = {S.ERR_SYNTAX, S.ERR_TOO_LARGE, S.ERR_BAD_DOMAIN,
                     S.ERR_NOT_ASCII}
        for s in S:
            self.assertEqual(mtasts.is_temporary(s), s in temporary, s)
            self.assertEqual(mtasts.is_bad_input(s), s in bad_input, s)
            if s != S.OK:
                e = mtasts.errors.error(s)
                self.assertEqual(e.is_temporary, s in temporary)
                self.assertEqual(e.is_bad_input, s in bad_input)

    def test_every_status_has_its_class(self):
        S = mtasts.Status
        want = {
            S.ERR_INVALID: (mtasts.InvalidArgument, mtasts.UsageError,
                            ValueError),
            S.ERR_NOMEM: (mtasts.NoMemory, MemoryError),
            S.ERR_STATE: (mtasts.StateError, mtasts.UsageError),
            S.ERR_IO: (mtasts.LocalIOError,),
            S.ERR_SYNTAX: (mtasts.ParseError, mtasts.InputError, ValueError),
            S.ERR_TOO_LARGE: (mtasts.TooLarge, mtasts.InputError),
            S.ERR_BAD_DOMAIN: (mtasts.BadDomain, mtasts.InputError),
            S.ERR_NOT_ASCII: (mtasts.NotAscii, mtasts.InputError),
            S.ERR_NO_POLICY: (mtasts.NoPolicy, mtasts.DiscoveryError),
            S.ERR_DNS_TEMPFAIL: (mtasts.DnsTempFail, mtasts.DiscoveryError),
            S.ERR_FETCH: (mtasts.FetchError, mtasts.DiscoveryError),
            S.ERR_WEBPKI: (mtasts.WebPkiError, mtasts.FetchError),
            S.ERR_POLICY_INVALID: (mtasts.PolicyInvalid, mtasts.FetchError),
            S.ERR_CONNECT: (mtasts.ConnectError, mtasts.ProbeError),
            S.ERR_TIMEOUT: (mtasts.ProbeTimeout, mtasts.ProbeError),
            S.ERR_PROTOCOL: (mtasts.ProtocolError, mtasts.ProbeError),
            S.ERR_NOT_FOUND: (mtasts.NotFound, mtasts.CacheError),
            S.ERR_CACHE_FORMAT: (mtasts.CacheFormat, mtasts.CacheError),
            S.ERR_CACHE_CORRUPT: (mtasts.CacheCorrupt, mtasts.CacheError),
            S.ERR_STORE: (mtasts.StoreError, mtasts.CacheError),
            S.ERR_NO_TLSRPT: (mtasts.NoTlsRpt, mtasts.ReportError),
            S.ERR_NO_DATA: (mtasts.NoData, mtasts.ReportError),
            S.ERR_FULL: (mtasts.ReportFull, mtasts.ReportError),
            S.ERR_REPORT_FILE: (mtasts.ReportFileError, mtasts.ReportError),
        }
        self.assertEqual(set(want), set(S) - {S.OK})
        for s, classes in want.items():
            with self.assertRaises(classes[0]) as cm:
                mtasts.errors.check(s)
            e = cm.exception
            for cls in classes + (mtasts.MtaStsError,):
                self.assertIsInstance(e, cls)
            self.assertEqual((e.status, e.name, e.message),
                             (s, mtasts.status_name(s), mtasts.strerror(s)))
            self.assertEqual(e.args, (s, e.name, e.message))
        unknown = mtasts.errors.error(-77)
        self.assertIs(type(unknown), mtasts.MtaStsError)
        self.assertEqual((unknown.status, unknown.name), (-77,
                                                          "MTASTS_UNKNOWN"))


class TestDomainAndTxt(unittest.TestCase):

    def test_normalize(self):
        self.assertEqual(mtasts.normalize_domain("Mail.Example.COM."),
                         "mail.example.com")
        self.assertEqual(mtasts.normalize_domain(b"xn--bcher-kva.example"),
                         "xn--bcher-kva.example")

    def test_normalize_bad_domain_has_position(self):
        with self.assertRaises(mtasts.BadDomain) as cm:
            mtasts.normalize_domain("mail..example.com")
        e = cm.exception
        self.assertEqual(e.status, mtasts.Status.ERR_BAD_DOMAIN)
        self.assertEqual((e.line, e.column, e.offset), (1, 6, 5))
        self.assertTrue(e.is_bad_input)
        self.assertIn("line 1, column 6", str(e))

    def test_normalize_not_ascii_is_the_library_status(self):
        with self.assertRaises(mtasts.NotAscii) as cm:
            mtasts.normalize_domain("bücher.example")
        self.assertEqual(cm.exception.status, -103)
        self.assertEqual(cm.exception.offset, 1)   # first byte of "ü"

    def test_normalize_rejects_other_types(self):
        with self.assertRaises(mtasts.InvalidArgument):
            mtasts.normalize_domain(42)

    def test_txt_parse(self):
        self.assertEqual(mtasts.txt_parse("v=STSv1; id=20190429T010101;"),
                         "20190429T010101")
        with self.assertRaises(mtasts.ParseError) as cm:
            mtasts.txt_parse(b"v=STSv1; id=bad!")
        self.assertEqual((cm.exception.line, cm.exception.column,
                          cm.exception.offset), (1, 16, 15))
        self.assertTrue(cm.exception.message)

    def test_txt_select(self):
        self.assertEqual(mtasts.txt_select(
            [b"v=spf1 -all", "v=STSv1; id=abc1;"]), "abc1")
        with self.assertRaises(mtasts.NoPolicy):
            mtasts.txt_select([])
        with self.assertRaises(mtasts.NoPolicy):
            mtasts.txt_select(["v=STSv1; id=a;", "v=STSv1; id=b;"])
        with self.assertRaises(mtasts.NoPolicy):
            mtasts.txt_select(["v=spf1 -all"])
        # Among several, "v=STSv10;" is no candidate; alone it is judged
        # by the grammar (RFC 8461 §3.1, DESIGN.md).
        self.assertEqual(mtasts.txt_select(["v=STSv10; id=a;",
                                            "v=STSv1; id=b;"]), "b")
        with self.assertRaises(mtasts.ParseError):
            mtasts.txt_select(["v=STSv10; id=a;"])
        with self.assertRaises(mtasts.ParseError) as cm:
            mtasts.txt_select(["v=STSv1; id=;"])
        self.assertEqual(cm.exception.line, 0)   # select gives no position

    def test_txt_record_may_hold_nul(self):
        # Records are (bytes, length): a NUL is a syntax error at its
        # position, not the end of the string.
        with self.assertRaises(mtasts.ParseError) as cm:
            mtasts.txt_parse(b"v=STSv1; id=ab\0cd")
        self.assertEqual(cm.exception.offset, 14)


class TestPolicy(unittest.TestCase):

    def test_properties(self):
        with mtasts.Policy(POLICY) as p:
            self.assertEqual(p.mode, mtasts.Mode.ENFORCE)
            self.assertEqual(str(p.mode), "enforce")
            self.assertEqual(p.max_age, 86400)
            self.assertEqual(p.mx, ("mx.example.com", "*.example.net"))
            self.assertEqual(p.raw, POLICY)
            self.assertEqual(p.text, POLICY.decode())
            self.assertEqual(p.warnings, mtasts.PolicyWarning(0))
            self.assertIn("enforce", repr(p))
        self.assertTrue(p.closed)
        self.assertIn("closed", repr(p))

    def test_str_and_parse_policy(self):
        p = mtasts.parse_policy("version: STSv1\nmode: none\nmax_age: 1\n")
        self.assertEqual((p.mode, p.mx, p.max_age), (mtasts.Mode.NONE, (), 1))

    def test_warnings(self):
        p = mtasts.Policy(b"version: STSv1\nmode: testing\nmx: a.example\n"
                          b"max_age: 99999999\n\n\n")
        self.assertEqual(p.max_age, mtasts.MAX_AGE_MAX)
        self.assertEqual(p.warnings,
                         mtasts.PolicyWarning.MAX_AGE_CLAMPED
                         | mtasts.PolicyWarning.TRAILING_EMPTY_LINES)

    def test_match_mx(self):
        p = mtasts.Policy(POLICY)
        self.assertTrue(p.match_mx("MX.example.com."))
        self.assertTrue(p.match_mx(b"mx1.example.net"))
        self.assertFalse(p.match_mx("example.net"))
        self.assertFalse(p.match_mx("a.b.example.net"))
        self.assertFalse(p.match_mx("[192.0.2.1]"))
        with self.assertRaises(mtasts.NotAscii) as cm:
            p.match_mx("mx.exämple.com")
        self.assertEqual(cm.exception.offset, 5)
        with self.assertRaises(mtasts.InvalidArgument):
            p.match_mx("mx.example.com\0.evil")

    def test_syntax_error_position(self):
        text = b"version: STSv1\nmode: enforce\nmx: *.*.example\nmax_age: 1\n"
        with self.assertRaises(mtasts.ParseError) as cm:
            mtasts.Policy(text)
        e = cm.exception
        # The second "*": only the leftmost label may be a wildcard.
        self.assertEqual((e.line, e.column), (3, 7))
        self.assertEqual(e.offset, text.index(b"*.*") + 2)
        self.assertTrue(e.message)
        self.assertEqual(e.status, mtasts.Status.ERR_SYNTAX)
        self.assertFalse(e.is_temporary)

    def test_too_large(self):
        big = POLICY + b"x" * mtasts.POLICY_MAX
        with self.assertRaises(mtasts.TooLarge) as cm:
            mtasts.Policy(big)
        self.assertEqual((cm.exception.line, cm.exception.offset), (0, 0))

    def test_closed_policy_raises(self):
        p = mtasts.Policy(POLICY)
        p.close()
        p.close()   # idempotent
        with self.assertRaises(mtasts.InvalidArgument):
            p.mode

    def test_policy_is_collected(self):
        p = mtasts.Policy(POLICY)
        ref = weakref.ref(p)
        del p
        gc.collect()
        self.assertIsNone(ref())

    def test_mx_pattern_match(self):
        cases = [
            ("*.example.com", "mail.example.com", True),
            ("*.example.com", "example.com", False),
            ("*.example.com", "a.b.example.com", False),
            ("mail.example.com", "MAIL.EXAMPLE.COM.", True),
            ("mail.example.com.", "mail.example.com", False),  # bad pattern
            ("*.example.com", "-bad.example.com", False),
        ]
        for pattern, host, want in cases:
            self.assertIs(mtasts.mx_pattern_match(pattern, host), want,
                          (pattern, host))


class TestDecide(unittest.TestCase):

    def test_table(self):
        R, V = mtasts.RptResult, mtasts.Verdict
        enforce, testing, none = (policy("enforce"), policy("testing"),
                                  policy("none", ()))
        cases = [
            (None, "mx.example.com", R.CERTIFICATE_EXPIRED, False, V.DELIVER),
            (none, "mx.example.com", R.STARTTLS_NOT_SUPPORTED, False,
             V.DELIVER),
            (enforce, "mx.example.com", R.NONE, False, V.DELIVER),
            (enforce, "other.example.com", R.NONE, False, V.REFUSE),
            (enforce, "mx.example.com", R.CERTIFICATE_HOST_MISMATCH, False,
             V.REFUSE),
            (testing, "mx.example.com", R.CERTIFICATE_NOT_TRUSTED, False,
             V.DELIVER_REPORT),
            (testing, "other.example.com", R.NONE, False, V.DELIVER_REPORT),
            (testing, "mx.example.com", R.NONE, False, V.DELIVER),
            (enforce, "other.example.com", R.VALIDATION_FAILURE, True,
             V.DANE),
        ]
        for pol, host, tls, dane, want in cases:
            got = mtasts.decide(pol, host, tls, dane=dane)
            self.assertIs(got, want, (pol, host, tls, dane))
        self.assertEqual(str(mtasts.decide(enforce, "x.example", R.NONE)),
                         "refuse")

    def test_invalid_tls(self):
        with self.assertRaises(mtasts.InvalidArgument) as cm:
            mtasts.decide(policy(), "mx.example.com",
                          mtasts.RptResult.STS_POLICY_FETCH_ERROR)
        self.assertEqual(cm.exception.status, mtasts.Status.ERR_INVALID)
        with self.assertRaises(mtasts.InvalidArgument):
            mtasts.decide(policy(), "mx.example.com", "none")
        with self.assertRaises(mtasts.InvalidArgument):   # 2**32 would wrap
            mtasts.decide(policy(), "mx.example.com", 2**32)
        with self.assertRaises(mtasts.InvalidArgument):
            mtasts.decide("not a policy", "mx.example.com",
                          mtasts.RptResult.NONE)


class TestTlsRpt(unittest.TestCase):

    def test_parse(self):
        r = mtasts.tlsrpt_parse("v=TLSRPTv1; rua=mailto:tls@example.com,"
                                "https://reports.example.net/tlsrpt;")
        self.assertEqual(r.rua, (
            mtasts.Rua("mailto:tls@example.com", mtasts.RuaScheme.MAILTO),
            mtasts.Rua("https://reports.example.net/tlsrpt",
                       mtasts.RuaScheme.HTTPS)))
        self.assertEqual(r.uris(mtasts.RuaScheme.HTTPS),
                         ["https://reports.example.net/tlsrpt"])
        self.assertEqual(len(r.uris()), 2)

    def test_parse_errors(self):
        with self.assertRaises(mtasts.ParseError) as cm:
            mtasts.tlsrpt_parse("v=TLSRPTv1; rua=mailto:a!b@example.com")
        self.assertEqual(cm.exception.line, 1)
        self.assertGreater(cm.exception.column, 1)
        self.assertIn("%21", cm.exception.message)
        with self.assertRaises(mtasts.NoTlsRpt):
            mtasts.tlsrpt_parse("v=TLSRPTv1; rua=ftp://example.com/x")

    def test_select(self):
        r = mtasts.tlsrpt_select([b"v=spf1 -all",
                                  b"v=TLSRPTv1; rua=mailto:r@example.org"])
        self.assertEqual(r.uris(), ["mailto:r@example.org"])
        with self.assertRaises(mtasts.NoTlsRpt):
            mtasts.tlsrpt_select([])
        with self.assertRaises(mtasts.ParseError):
            mtasts.tlsrpt_select(["v=TLSRPTv1 rua=mailto:r@example.org"])


def _silent_udp_port():
    """A loopback UDP socket that never answers (a dead resolver)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    return s


def _closed_udp_port():
    """A loopback UDP port with nothing bound: queries are refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _closed_tcp_port():
    """A loopback TCP port with nothing listening."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TestContext(unittest.TestCase):

    def test_options_as_keywords_and_properties(self):
        with mtasts.Context(dns_timeout_ms=200, cache_capacity=10,
                            https_port=8443, helo_name="client.example")as c:
            self.assertEqual(c.dns_timeout_ms, 200)
            self.assertIsNone(c.fetch_timeout_ms)   # library default
            c.fetch_timeout_ms = 1000
            c.smtp_timeout_ms = 500
            c.connect_timeout_ms = 300
            c.body_max = 1024
            c.fetch_backoff_s = 0
            c.no_policy_ttl_s = 0
            c.txt_check_interval_s = 0
            c.resolver = "::1@5353"
            c.resolver = None
            self.assertEqual(c.fetch_timeout_ms, 1000)
            self.assertIsNone(c.resolver)
        self.assertTrue(c.closed)

    def test_option_errors(self):
        c = mtasts.Context()
        with self.assertRaises(mtasts.InvalidArgument):
            c.dns_timeout_ms = 0                     # the library says no
        with self.assertRaises(mtasts.InvalidArgument):
            c.dns_timeout_ms = 2**32 + 1             # would wrap in C
        with self.assertRaises(mtasts.InvalidArgument):
            c.resolver = "resolver.example"
        with self.assertRaises(mtasts.BadDomain):
            c.helo_name = "bad..name"
        with self.assertRaises(mtasts.NotAscii):
            c.helo_name = "hélo.example"
        with self.assertRaises(TypeError):
            mtasts.Context(no_such_option=1)
        with self.assertRaises(mtasts.LocalIOError) as cm:
            c.ca_file = os.path.join(HERE, "no-such-ca.pem")
        self.assertFalse(cm.exception.is_temporary)
        c.close()
        with self.assertRaises(mtasts.InvalidArgument):
            c.lookup("example.com")

    def test_lookup_dns_failure_is_a_result(self):
        dead = _silent_udp_port()
        self.addCleanup(dead.close)
        c = mtasts.Context(resolver="127.0.0.1@%d" % dead.getsockname()[1],
                           dns_timeout_ms=200, clock=lambda: NOW)
        t0 = time.monotonic()
        r = c.lookup("Example.COM.")
        self.assertLess(time.monotonic() - t0, 5)
        self.assertEqual(r.status, mtasts.Status.ERR_DNS_TEMPFAIL)
        self.assertFalse(r.ok)
        self.assertTrue(r.is_temporary)
        self.assertIsNone(r.policy)
        self.assertEqual(r.domain, "example.com")
        self.assertEqual(r.txt_id, "")
        self.assertEqual(r.failure, mtasts.RptResult.NONE)
        self.assertIn("_mta-sts.example.com", r.reason)
        self.assertFalse(r.from_cache)
        self.assertEqual(r.expires, 0)
        with self.assertRaises(mtasts.DnsTempFail) as cm:
            r.raise_for_status()
        self.assertEqual(cm.exception.message, r.reason)

    def test_lookup_argument_errors_raise(self):
        c = mtasts.Context()
        with self.assertRaises(mtasts.BadDomain):
            c.lookup("[192.0.2.1]")
        with self.assertRaises(mtasts.NotAscii):
            c.lookup("bücher.example")
        with self.assertRaises(mtasts.InvalidArgument):
            c.lookup("example.com\0")

    def test_clock_exception_is_raised_after_the_call(self):
        dead = _silent_udp_port()
        self.addCleanup(dead.close)

        def broken():
            raise ZeroDivisionError("clock broke")
        c = mtasts.Context(resolver="127.0.0.1@%d" % dead.getsockname()[1],
                           dns_timeout_ms=100, clock=broken)
        with self.assertRaises(RuntimeError) as cm:
            c.lookup("example.com")
        self.assertIsInstance(cm.exception.__cause__, ZeroDivisionError)
        c.clock = lambda: 2**64                 # no int64_t either
        with self.assertRaises(RuntimeError) as cm:
            c.lookup("example.com")
        self.assertIsInstance(cm.exception.__cause__, OverflowError)
        c.clock = None
        self.assertIsNone(c.clock)
        self.assertEqual(c.lookup("example.com").status,
                         mtasts.Status.ERR_DNS_TEMPFAIL)

    def test_probe_refused_connection_is_a_result(self):
        c = mtasts.Context(connect_timeout_ms=1000, smtp_timeout_ms=1000)
        port = _closed_tcp_port()
        chk = c.probe_mx(policy(), "mx.example.com", addr="127.0.0.1",
                         port=port)
        self.assertEqual(chk.status, mtasts.Status.ERR_CONNECT)
        self.assertEqual(chk.host, "mx.example.com")
        self.assertTrue(chk.matches)
        self.assertEqual(chk.tls, mtasts.RptResult.NONE)
        self.assertFalse(chk.ok)
        self.assertTrue(chk.reason)
        with self.assertRaises(mtasts.ConnectError):
            chk.raise_for_status()
        with self.assertRaises(mtasts.InvalidArgument):
            c.probe_mx(None, "mx.example.com", addr="not-an-ip", port=port)
        with self.assertRaises(mtasts.InvalidArgument):
            c.probe_mx(None, "mx.example.com", addr="127.0.0.1", port=70000)

    def test_probe_protocol_and_timeout_are_results(self):
        # Two one-shot loopback servers: one that talks HTTP, one silent.
        def serve(reply):
            srv = socket.socket()
            srv.bind(("127.0.0.1", 0))
            srv.listen(1)

            def run():
                conn, _ = srv.accept()
                with conn:
                    if reply:
                        conn.sendall(reply)
                    conn.recv(1024)
                srv.close()
            t = threading.Thread(target=run, daemon=True)
            t.start()
            self.addCleanup(t.join, 5)
            return srv.getsockname()[1]
        c = mtasts.Context(smtp_timeout_ms=200, connect_timeout_ms=1000)
        chk = c.probe_mx(None, "mx.example.com", "127.0.0.1",
                         serve(b"HTTP/1.1 400 Bad Request\r\n\r\n"))
        self.assertEqual(chk.status, mtasts.Status.ERR_PROTOCOL)
        self.assertEqual(chk.ip, "127.0.0.1")
        self.assertRaises(mtasts.ProtocolError, chk.raise_for_status)
        chk = c.probe_mx(None, "mx.example.com", "127.0.0.1", serve(b""))
        self.assertEqual(chk.status, mtasts.Status.ERR_TIMEOUT)
        self.assertRaises(mtasts.ProbeTimeout, chk.raise_for_status)

    def test_threads_share_a_context(self):
        dead = _silent_udp_port()
        self.addCleanup(dead.close)
        c = mtasts.Context(resolver="127.0.0.1@%d" % dead.getsockname()[1],
                           dns_timeout_ms=500, clock=lambda: NOW)
        results = []

        def work(i):
            results.append(c.lookup(f"d{i}.example").status)
        threads = [threading.Thread(target=work, args=(i,))
                   for i in range(4)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(results, [mtasts.Status.ERR_DNS_TEMPFAIL] * 4)
        # ctypes releases the GIL: four 500 ms timeouts overlap (2 s if not).
        self.assertLess(time.monotonic() - t0, 1.5)


class TestVerifyMx(unittest.TestCase):
    """mtasts_verify_mx() on tests/unit/gen_mx_certs.py's certificates."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        subprocess.run(["/usr/bin/python3", GEN_MX_CERTS, "--out",
                        cls.tmp.name], check=True)
        cls.ctx = mtasts.Context(ca_file=pathlib.Path(cls.tmp.name,
                                                      "ca.pem"),
                                 clock=lambda: NOW)

    @classmethod
    def tearDownClass(cls):
        cls.ctx.close()
        cls.tmp.cleanup()

    def der(self, *names):
        out = []
        for n in names:
            with open(os.path.join(self.tmp.name, n + ".der"), "rb") as f:
                out.append(f.read())
        return out

    def test_table(self):
        R = mtasts.RptResult
        p = policy("enforce", ("mx.example.com",))
        cases = [
            (("rsa_ok", "int"), "mx.example.com", True, R.NONE, R.NONE, ""),
            (("ec_ok", "ec_int"), "MX.example.com.", True, R.NONE, R.NONE,
             ""),
            (("wildcard", "int"), "mx.example.com", True, R.NONE, R.NONE,
             ""),
            (("expired", "int"), "mx.example.com", True,
             R.CERTIFICATE_EXPIRED, R.CERTIFICATE_EXPIRED,
             "certificate-expired"),
            (("wrong_name", "int"), "mx.example.com", True,
             R.CERTIFICATE_HOST_MISMATCH, R.CERTIFICATE_HOST_MISMATCH,
             "certificate-host-mismatch"),
            (("unknown_ca",), "mx.example.com", True,
             R.CERTIFICATE_NOT_TRUSTED, R.CERTIFICATE_NOT_TRUSTED,
             "certificate-not-trusted"),
            (("rsa_ok", "int"), "other.example.com", False,
             R.CERTIFICATE_HOST_MISMATCH, R.VALIDATION_FAILURE,
             "mx-mismatch"),
            ((), "mx.example.com", True, R.VALIDATION_FAILURE,
             R.VALIDATION_FAILURE, "no-certificate"),
        ]
        for names, host, matches, tls, result, code in cases:
            with self.subTest(names=names, host=host):
                chk = self.ctx.verify_mx(p, host, self.der(*names))
                self.assertEqual(chk.status, mtasts.Status.OK)
                self.assertEqual(chk.host, host.lower().rstrip("."))
                self.assertEqual(chk.ip, "")
                self.assertIs(chk.matches, matches)
                self.assertIs(chk.tls, tls)
                self.assertIs(chk.result, result)
                self.assertEqual(chk.reason_code, code)
                self.assertEqual(chk.ok, result == R.NONE)
                self.assertEqual(bool(chk.reason), result != R.NONE)
                want = (mtasts.Verdict.DELIVER if chk.ok
                        else mtasts.Verdict.REFUSE)
                self.assertIs(mtasts.decide(p, host, chk), want)

    def test_without_policy_checks_the_certificate_alone(self):
        chk = self.ctx.verify_mx(None, "mx.example.com",
                                 self.der("rsa_ok", "int"))
        self.assertFalse(chk.matches)
        self.assertIs(chk.result, mtasts.RptResult.NONE)

    def test_clock_moves_expiry(self):
        with mtasts.Context(ca_file=os.path.join(self.tmp.name, "ca.pem"),
                            clock=lambda: NOW + 2 * 365 * 86400) as later:
            chk = later.verify_mx(None, "mx.example.com",
                                  self.der("rsa_ok", "int"))
        self.assertIs(chk.tls, mtasts.RptResult.CERTIFICATE_EXPIRED)

    def test_argument_errors(self):
        with self.assertRaises(mtasts.InvalidArgument):
            self.ctx.verify_mx(None, "mx.example.com", [b"x"] * 65)
        with self.assertRaises(mtasts.NotAscii):
            self.ctx.verify_mx(None, "mx.exämple.com", self.der("rsa_ok"))
        with self.assertRaises(mtasts.InvalidArgument):
            self.ctx.verify_mx(None, "mx.example.com", [None])


class _MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
        "fsmblks", "uordblks", "fordblks", "keepcost")]


class TestNoLeaks(unittest.TestCase):
    """Every handle the binding gets is released: the bytes malloc has
    handed out do not grow over thousands of calls. The count comes from
    ASan's allocator in a sanitizer build (LeakSanitizer is off there:
    CPython frees little at exit), else from glibc's mallinfo2()."""

    def setUp(self):
        libc = ctypes.CDLL(None)
        asan = getattr(libc, "__sanitizer_get_current_allocated_bytes", None)
        if asan is not None:
            asan.restype = ctypes.c_size_t
            self.in_use = asan
        elif hasattr(libc, "mallinfo2"):
            libc.mallinfo2.restype = _MallInfo2

            def in_use():
                info = libc.mallinfo2()
                return info.uordblks + info.hblkhd
            self.in_use = in_use
        else:
            self.skipTest("no allocation statistics in this C library")
        # The count must see an allocation made through the C library.
        libc.malloc.restype = ctypes.c_void_p
        libc.malloc.argtypes = [ctypes.c_size_t]
        libc.free.argtypes = [ctypes.c_void_p]
        before = self.in_use()
        block = libc.malloc(1 << 20)
        grew = self.in_use() - before
        libc.free(block)
        self.assertGreaterEqual(grew, 1 << 20)

    def test_handles_are_freed(self):
        gen = tempfile.TemporaryDirectory()
        self.addCleanup(gen.cleanup)
        subprocess.run(["/usr/bin/python3", GEN_MX_CERTS, "--out", gen.name],
                       check=True)
        chain = []
        for n in ("rsa_ok", "int"):
            with open(os.path.join(gen.name, n + ".der"), "rb") as f:
                chain.append(f.read())
        ctx = mtasts.Context(ca_file=os.path.join(gen.name, "ca.pem"),
                             clock=lambda: NOW,
                             resolver="127.0.0.1@%d" % _closed_udp_port())
        self.addCleanup(ctx.close)

        def once():
            with mtasts.Policy(POLICY) as p:          # closed explicitly
                ctx.verify_mx(p, "mx.example.com", chain)
                mtasts.decide(p, "mx.example.com", mtasts.RptResult.NONE)
            q = mtasts.Policy(POLICY)                 # left to the GC
            self.assertTrue(q.match_mx("mx.example.com"))
            del q
            mtasts.tlsrpt_parse("v=TLSRPTv1; rua=mailto:r@example.com")
            mtasts.tlsrpt_select(["v=TLSRPTv1; rua=https://r.example/x"])
            try:
                mtasts.Policy(b"version: STSv1\nmode: bad\n")
            except mtasts.ParseError:
                pass
            r = ctx.lookup("example.com")             # refused at once
            self.assertEqual(r.status, mtasts.Status.ERR_DNS_TEMPFAIL)

        for _ in range(200):                          # warm caches up
            once()
        gc.collect()
        before = self.in_use()
        for _ in range(2000):
            once()
        gc.collect()
        grown = self.in_use() - before
        # One leaked policy, check, record or result per round would be
        # 2000 x 100+ bytes; allow for allocator noise well below that.
        self.assertLess(grown, 64 * 1024, f"{grown} bytes more in use")


class TestDocs(unittest.TestCase):

    def test_package_docstring_example_runs(self):
        result = doctest.testmod(mtasts)
        self.assertGreater(result.attempted, 0)
        self.assertEqual(result.failed, 0)


class TestNoMemory(unittest.TestCase):
    """The library's allocator cannot be made to fail from outside (its
    switch is internal), so NOMEM is checked through the mapping."""

    def test_no_memory_is_a_memory_error(self):
        with self.assertRaises(MemoryError) as cm:
            mtasts.errors.check(mtasts.Status.ERR_NOMEM)
        self.assertIsInstance(cm.exception, mtasts.NoMemory)
        self.assertTrue(cm.exception.is_temporary)


if __name__ == "__main__":
    unittest.main()
