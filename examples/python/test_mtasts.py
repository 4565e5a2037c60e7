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
import gzip
import json
import os
import pathlib
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import weakref
import zlib

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
        self.assertEqual(r.reason_code, "txt-lookup-failed")
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


def cache_record(domain, txt_id, text, fetched, used, max_age=86400):
    """One record of docs/cache-format.md (also a store value), written
    here independently of the library."""
    body = (struct.pack(">qqqBBI", fetched, fetched + max_age, used,
                        len(domain), len(txt_id), len(text))
            + domain + txt_id + text)
    data = b"MSR\x01" + struct.pack(">I", 8 + len(body) + 4) + body
    return data + struct.pack(">I", zlib.crc32(data))


def cache_file(*records):
    return (b"\x89MTSC\r\n\x1a" + struct.pack(">HHI", 1, 0, len(records))
            + b"".join(records))


CACHE_POLICY = (b"version: STSv1\nmode: enforce\nmx: mx.example.com\n"
                b"max_age: 86400\n")
TESTING_POLICY = (b"version: STSv1\nmode: testing\nmx: *.b.example\n"
                  b"max_age: 3600\n")
#: example.com fetched 100 s ago, used 50 s ago; b.example fetched 3500 s
#: ago (expires in 100 s), used 5000 s ago.
REC_A = cache_record(b"example.com", b"id1", CACHE_POLICY, NOW - 100, NOW - 50)
REC_B = cache_record(b"b.example", b"20260101T000000", TESTING_POLICY,
                     NOW - 3500, NOW - 5000, max_age=3600)


class _OfflineContext(unittest.TestCase):
    """A context whose resolver is a loopback port that never answers (a
    lookup costs the 200 ms DNS timeout), at the fixed time NOW, and a
    temporary directory."""

    def setUp(self):
        dead = _silent_udp_port()
        self.addCleanup(dead.close)
        self.resolver = "127.0.0.1@%d" % dead.getsockname()[1]
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.dir = pathlib.Path(tmp.name)
        self.ctx = self.context()

    def context(self, **options):
        c = mtasts.Context(resolver=self.resolver, dns_timeout_ms=200,
                           clock=lambda: NOW, refresh_jitter_s=0, **options)
        self.addCleanup(c.close)
        return c

    def write(self, name, data):
        path = self.dir / name
        path.write_bytes(data)
        return path


class TestCache(_OfflineContext):

    def test_load_entries_save_load_round_trip(self):
        f = self.write("in.cache", cache_file(REC_A, REC_B))
        self.assertTrue(self.ctx.load(f))
        got = {e.domain: e for e in self.ctx.entries()}
        self.assertEqual(set(got), {"example.com", "b.example"})
        a = got["example.com"]
        self.assertIsInstance(a, mtasts.CacheEntry)
        self.assertEqual((a.txt_id, a.mode, a.fetched_at, a.expires,
                          a.last_used),
                         ("id1", mtasts.Mode.ENFORCE, NOW - 100,
                          NOW - 100 + 86400, NOW - 50))
        self.assertEqual(a.policy.raw, CACHE_POLICY)
        self.assertIs(got["b.example"].mode, mtasts.Mode.TESTING)
        with self.assertRaises(AttributeError):
            a.domain = "x"                      # an immutable record
        out = self.dir / "out.cache"
        self.ctx.save(out)
        self.assertEqual(out.stat().st_mode & 0o777, 0o600)
        # A second context reads back exactly the same entries.
        other = self.context()
        self.assertTrue(other.load(str(out).encode()))
        again = {e.domain: e[:6] for e in other.entries()}
        self.assertEqual(again, {d: e[:6] for d, e in got.items()})
        # The encoding is canonical: the very records written above, in
        # some order, after a header with count 2.
        data = out.read_bytes()
        self.assertEqual(data[:16], b"\x89MTSC\r\n\x1a"
                         + struct.pack(">HHI", 1, 0, 2))
        self.assertIn(data[16:], (REC_A + REC_B, REC_B + REC_A))

    def test_a_loaded_policy_answers_a_lookup(self):
        self.ctx.load(self.write("c", cache_file(REC_A)))
        r = self.ctx.lookup("Example.COM.")
        self.assertTrue(r.ok, r.reason)
        self.assertTrue(r.from_cache)
        self.assertEqual(r.txt_id, "id1")
        self.assertEqual(r.expires, NOW - 100 + 86400)
        # The TXT check failed (dead resolver): reported, policy kept.
        self.assertIs(r.failure, mtasts.RptResult.STS_POLICY_FETCH_ERROR)
        self.assertEqual(r.store_status, mtasts.Status.OK)
        self.assertIsNone(r.store_error)
        self.assertEqual(self.ctx.entries()[0].last_used, NOW)

    def test_load_missing_file(self):
        with self.assertRaises(mtasts.NotFound):
            self.ctx.load(self.dir / "none.cache")
        self.assertFalse(self.ctx.load(self.dir / "none.cache",
                                       missing_ok=True))
        with self.assertRaises(mtasts.LocalIOError):
            self.ctx.load(self.dir)             # not a regular file

    def test_load_refusals_carry_offset_and_message(self):
        good = cache_file(REC_A)
        flipped = bytearray(good)
        flipped[-1] ^= 0xFF                      # the record's CRC
        cases = [
            (b"\x89MTSX" + good[5:], mtasts.CacheFormat, 0,
             "not a cache file (bad magic)"),
            (good[:8] + b"\x00\x02" + good[10:], mtasts.CacheFormat, 8,
             "cache file version not supported"),
            (bytes(flipped), mtasts.CacheCorrupt, len(good) - 4,
             "record checksum mismatch"),          # at the checksum
            (good + b"x", mtasts.CacheCorrupt, len(good),
             "bytes after the last record"),
            (cache_file(REC_A, REC_A), mtasts.CacheCorrupt,
             16 + len(REC_A) + 38, "domain appears twice"),  # its domain
            (good[:-3], mtasts.CacheCorrupt, None, "record truncated"),
        ]
        for data, exc, offset, message in cases:
            with self.subTest(message=message):
                with self.assertRaises(exc) as cm:
                    self.ctx.load(self.write("bad.cache", data))
                e = cm.exception
                self.assertEqual(e.message, message)
                if offset is not None:
                    self.assertEqual(e.offset, offset)
                self.assertLessEqual(e.offset, len(data))
                self.assertEqual((e.line, e.column), (0, 0))
                self.assertIn(message, str(e))
                self.assertEqual(self.ctx.entries(), [])   # unchanged

    def test_save_errors(self):
        with self.assertRaises(mtasts.LocalIOError):
            self.ctx.save(self.dir / "no-such-dir" / "c")
        with self.assertRaises(mtasts.InvalidArgument):
            self.ctx.save("")
        with self.assertRaises(mtasts.InvalidArgument):
            self.ctx.save("a\0b")
        with self.assertRaises(mtasts.InvalidArgument):
            self.ctx.load(42)
        self.ctx.close()
        with self.assertRaises(mtasts.InvalidArgument):
            self.ctx.save(self.dir / "c")

    def test_remove_clear_remove_idle(self):
        f = self.write("c", cache_file(REC_A, REC_B))
        self.ctx.load(f)
        self.ctx.remove("EXAMPLE.com.")
        self.assertEqual([e.domain for e in self.ctx.entries()],
                         ["b.example"])
        with self.assertRaises(mtasts.NotFound):
            self.ctx.remove("example.com")
        with self.assertRaises(mtasts.BadDomain):
            self.ctx.remove("bad..example")
        with self.assertRaises(mtasts.NotAscii):
            self.ctx.remove("bücher.example")
        self.assertEqual(self.ctx.clear(), 1)
        self.assertEqual(self.ctx.clear(), 0)
        # b.example was last used 5000 s ago, example.com 50 s ago.
        self.ctx.load(f)
        self.assertEqual(self.ctx.remove_idle(), 0)   # default 180 days
        self.ctx.cache_max_idle_s = 1000
        self.assertEqual(self.ctx.remove_idle(), 1)
        self.assertEqual([e.domain for e in self.ctx.entries()],
                         ["example.com"])
        # load() itself skips idle entries.
        self.ctx.clear()
        self.ctx.load(f)
        self.assertEqual(len(self.ctx.entries()), 1)

    def test_due(self):
        self.ctx.load(self.write("c", cache_file(REC_A, REC_B)))
        self.assertEqual(self.ctx.due(), [])     # every rule off
        # b.example expires in 100 s; example.com in a day.
        due = self.ctx.due(expiring_within_s=3600)
        self.assertEqual([e.domain for e in due], ["b.example"])
        # ... but it was not used within the last 1000 s.
        self.assertEqual(self.ctx.due(used_within_s=1000,
                                      expiring_within_s=3600), [])
        self.assertEqual(len(self.ctx.due(expiring_within_s=2 * 86400)), 2)
        # A loaded policy's TXT record counts as not checked: both due.
        self.assertEqual(len(self.ctx.due(recheck_after_s=60)), 2)
        for bad in (-1, 2**32, "1"):
            with self.assertRaises(mtasts.InvalidArgument):
                self.ctx.due(expiring_within_s=bad)

    def test_refresh(self):
        with self.assertRaises(mtasts.NotFound):
            self.ctx.refresh("example.com")
        self.ctx.load(self.write("c", cache_file(REC_A)))
        r = self.ctx.refresh("example.com")
        self.assertIsInstance(r, mtasts.LookupResult)
        self.assertTrue(r.ok, r.reason)          # the cached policy stays
        self.assertEqual(r.txt_id, "id1")
        self.assertIs(r.failure, mtasts.RptResult.STS_POLICY_FETCH_ERROR)
        # A refresh is no use: last_used is still the file's.
        self.assertEqual(self.ctx.entries()[0].last_used, NOW - 50)
        with self.assertRaises(mtasts.BadDomain):
            self.ctx.refresh("-bad.example")

    def test_cache_options(self):
        c = self.context(cache_capacity=1, cache_max_idle_s=0,
                         refresh_fetch_window_s=3600, random_seed=2**64 - 1)
        self.assertEqual(c.random_seed, 2**64 - 1)
        self.assertEqual(c.refresh_jitter_s, 0)
        c.load(self.write("c", cache_file(REC_A, REC_B)))
        self.assertEqual(len(c.entries()), 1)    # capacity 1
        with self.assertRaises(mtasts.InvalidArgument):
            c.refresh_fetch_window_s = 31557601  # the library's bound
        with self.assertRaises(mtasts.InvalidArgument):
            c.refresh_jitter_s = 31557601
        with self.assertRaises(mtasts.InvalidArgument):
            c.random_seed = 2**64                # would wrap in C
        with self.assertRaises(mtasts.InvalidArgument):
            c.cache_max_idle_s = -1


class TestStore(_OfflineContext):

    def dict_store(self, ctx=None):
        data, calls = {}, []

        def get(domain):
            calls.append(("get", domain))
            return data.get(domain)

        def put(domain, value, ttl_s):
            calls.append(("put", domain, ttl_s))
            data[domain] = value

        def delete(domain):
            calls.append(("delete", domain))
            data.pop(domain, None)
        (ctx or self.ctx).set_store(get, put, delete)
        return data, calls

    def test_store_serves_a_policy_and_remove_deletes(self):
        data, calls = self.dict_store()
        data["example.com"] = REC_A
        r = self.ctx.lookup("example.com")
        self.assertTrue(r.ok, r.reason)
        self.assertTrue(r.from_cache)
        self.assertEqual(r.policy.raw, CACHE_POLICY)
        self.assertEqual(r.store_status, mtasts.Status.OK)
        self.assertEqual(calls, [("get", "example.com")])
        self.assertEqual(self.ctx.store[0].__name__, "get")
        self.ctx.remove("Example.com")
        self.assertEqual(calls[-1], ("delete", "example.com"))
        self.assertNotIn("example.com", data)
        # With a store, removing an unknown domain is no error.
        self.ctx.remove("unknown.example")
        # No store: the hooks are no longer called.
        self.ctx.set_store(None, None, None)
        self.assertIsNone(self.ctx.store)
        n = len(calls)
        self.ctx.lookup("example.com")
        self.assertEqual(len(calls), n)

    def test_a_hook_that_raises_is_a_store_failure(self):
        def boom(*args):
            raise KeyError(args[0])
        self.ctx.set_store(boom, boom, boom)
        r = self.ctx.lookup("example.com")       # went on without a store
        self.assertEqual(r.status, mtasts.Status.ERR_DNS_TEMPFAIL)
        self.assertEqual(r.store_status, mtasts.Status.ERR_STORE)
        self.assertIsInstance(r.store_error, KeyError)
        self.assertEqual(r.store_error.args, ("example.com",))
        with self.assertRaises(mtasts.StoreError) as cm:
            self.ctx.remove("example.com")
        self.assertIsInstance(cm.exception.__cause__, KeyError)
        self.assertTrue(cm.exception.is_temporary)
        # The error was taken: the next result does not inherit it.
        self.ctx.set_store(lambda d: None, boom, boom)
        r = self.ctx.lookup("example.com")
        self.assertEqual(r.store_status, mtasts.Status.OK)
        self.assertIsNone(r.store_error)

    def test_bad_values_from_get(self):
        cases = [
            (b"garbage", mtasts.Status.ERR_CACHE_CORRUPT, None),
            (cache_record(b"other.example", b"id1", CACHE_POLICY, NOW, NOW),
             mtasts.Status.ERR_CACHE_CORRUPT, None),     # another domain
            (b"x" * (mtasts.STORE_VALUE_MAX + 1), mtasts.Status.ERR_STORE,
             mtasts.TooLarge),
            ("not bytes", mtasts.Status.ERR_STORE, TypeError),
        ]
        for value, store_status, exc in cases:
            with self.subTest(store_status=store_status, exc=exc):
                self.ctx.set_store(lambda d, v=value: v, print, print)
                r = self.ctx.lookup("example.com")
                self.assertIsNone(r.policy)
                self.assertEqual(r.store_status, store_status)
                if exc is None:
                    self.assertIsNone(r.store_error)
                else:
                    self.assertIsInstance(r.store_error, exc)

    def test_hook_errors_stay_with_their_thread(self):
        # Four lookups at once; the store fails for two of the domains.
        def get(domain):
            if domain.startswith("bad"):
                raise LookupError(domain)
            return None
        self.ctx.set_store(get, print, print)
        domains = ["bad1.example", "ok1.example", "bad2.example",
                   "ok2.example"]
        results = {}

        def work(d):
            results[d] = self.ctx.lookup(d)
        threads = [threading.Thread(target=work, args=(d,)) for d in domains]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        self.assertEqual(set(results), set(domains))
        for d, r in results.items():
            with self.subTest(domain=d):
                self.assertEqual(r.status, mtasts.Status.ERR_DNS_TEMPFAIL)
                if d.startswith("bad"):
                    self.assertEqual(r.store_status, mtasts.Status.ERR_STORE)
                    self.assertEqual(r.store_error.args, (d,))
                else:
                    self.assertEqual(r.store_status, mtasts.Status.OK)
                    self.assertIsNone(r.store_error)

    def test_set_store_argument_errors(self):
        with self.assertRaises(mtasts.InvalidArgument):
            self.ctx.set_store(print, None, print)
        with self.assertRaises(mtasts.InvalidArgument):
            self.ctx.set_store(print, print, "delete")
        self.assertIsNone(self.ctx.store)

    def test_hooks_stay_alive_with_the_context(self):
        data, calls = self.dict_store()
        data["example.com"] = REC_A
        ref = weakref.ref(self.ctx._store_cbs[0])
        gc.collect()                              # nothing else holds them
        self.assertTrue(self.ctx.lookup("example.com").ok)
        self.ctx.close()
        gc.collect()
        self.assertIsNone(ref())


class TestReports(_OfflineContext):
    """Records from a lookup answered by a loaded policy and from
    verify_mx() on gen_mx_certs.py's certificates."""

    ORG, CONTACT = "Example Sender", "tlsrpt@sender.example"
    #: RFC 8460 §4.4 member names.
    TOP = {"organization-name", "date-range", "contact-info", "report-id",
           "policies"}
    POLICY_KEYS = {"policy-type", "policy-string", "policy-domain",
                   "mx-host"}
    DETAIL_KEYS = {"result-type", "sending-mta-ip", "receiving-mx-hostname",
                   "receiving-mx-helo", "receiving-ip",
                   "failed-session-count", "additional-information",
                   "failure-reason-code"}

    @classmethod
    def setUpClass(cls):
        cls.certs = tempfile.TemporaryDirectory()
        subprocess.run(["/usr/bin/python3", GEN_MX_CERTS, "--out",
                        cls.certs.name], check=True)

    @classmethod
    def tearDownClass(cls):
        cls.certs.cleanup()

    def der(self, *names):
        return [pathlib.Path(self.certs.name, n + ".der").read_bytes()
                for n in names]

    def setUp(self):
        super().setUp()
        self.ctx.ca_file = pathlib.Path(self.certs.name, "ca.pem")
        self.ctx.load(self.write("c", cache_file(REC_A)))
        self.lookup = self.ctx.lookup("example.com")
        self.assertTrue(self.lookup.ok, self.lookup.reason)

    def record_day(self, ctx=None):
        ctx = ctx or self.ctx
        bad = ctx.verify_mx(self.lookup.policy, "mx.example.com",
                            self.der("expired", "int"))
        good = ctx.verify_mx(self.lookup.policy, "mx.example.com",
                             self.der("rsa_ok", "int"))
        ctx.record(self.lookup, bad, "2001:0DB8:0:0:0:0:0:1", 5)
        ctx.record(self.lookup, good, "192.0.2.1", 3)

    def test_json_has_the_rfc_8460_fields(self):
        self.record_day()
        text = self.ctx.report_json("example.com", NOW + 3600, self.ORG,
                                    self.CONTACT)
        rep = json.loads(text)
        self.assertEqual(set(rep), self.TOP)
        self.assertEqual(rep["organization-name"], self.ORG)
        self.assertEqual(rep["contact-info"], self.CONTACT)
        self.assertEqual(rep["date-range"],
                         {"start-datetime": "2026-01-01T00:00:00Z",
                          "end-datetime": "2026-01-01T23:59:59Z"})
        self.assertEqual(rep["report-id"],
                         "20260101.example.com@sender.example")
        [pol] = rep["policies"]
        self.assertEqual(set(pol), {"policy", "summary", "failure-details"})
        self.assertEqual(set(pol["policy"]), self.POLICY_KEYS)
        self.assertEqual(pol["policy"]["policy-type"], "sts")
        self.assertEqual(pol["policy"]["policy-domain"], "example.com")
        self.assertEqual(pol["policy"]["policy-string"],
                         CACHE_POLICY.decode().splitlines())
        self.assertEqual(pol["policy"]["mx-host"], ["mx.example.com"])
        self.assertEqual(pol["summary"],
                         {"total-successful-session-count": 3,
                          "total-failure-session-count": 5})
        for d in pol["failure-details"]:
            self.assertLessEqual(set(d), self.DETAIL_KEYS)
        by_type = {d["result-type"]: d for d in pol["failure-details"]}
        expired = by_type["certificate-expired"]
        self.assertEqual(expired["failed-session-count"], 5)
        self.assertEqual(expired["sending-mta-ip"], "2001:db8::1")  # RFC 5952
        self.assertEqual(expired["receiving-mx-hostname"], "mx.example.com")
        self.assertEqual(expired["failure-reason-code"],
                         "certificate-expired")
        # The lookup's failed TXT check (dead resolver) is reported too.
        self.assertIn("sts-policy-fetch-error", by_type)

    def test_gzip_and_mail(self):
        self.record_day()
        text = self.ctx.report_json("example.com", NOW, self.ORG,
                                    self.CONTACT)
        gz, name = self.ctx.report_gzip("example.com", NOW, self.ORG,
                                        self.CONTACT)
        self.assertEqual(gzip.decompress(gz).decode(), text)
        self.assertEqual(name, "sender.example!example.com!%d!%d.json.gz"
                         % (NOW, NOW + 86399))
        rua = mtasts.tlsrpt_parse("v=TLSRPTv1; rua=mailto:tls@example.com")
        msg = self.ctx.report_mail("example.com", NOW, self.ORG,
                                   self.CONTACT, rua.rua[0])
        self.assertIsInstance(msg, bytes)
        head, _, body = msg.partition(b"\r\n\r\n")
        self.assertIn(b"\r\nTo: <tls@example.com>\r\n", b"\r\n" + head)
        self.assertIn(b"TLS-Report-Domain: example.com", head)
        self.assertIn(b"TLS-Report-Submitter: sender.example", head)
        self.assertIn(b'report-type="tlsrpt"', head)
        self.assertIn(name.encode(), body)
        self.assertEqual(
            msg, self.ctx.report_mail("example.com", NOW, self.ORG,
                                      self.CONTACT, "mailto:tls@example.com"))

    def test_post_outcomes_without_a_server(self):
        """mtasts_rpt_post(): no response is a result; a bad rua, no data
        and bad arguments raise (RFC 8460 §5.4; the receiver is in
        test_world.py)."""
        self.record_day()
        self.ctx.resolver = "127.0.0.1@%d" % _closed_udp_port()
        out = self.ctx.post_report("example.com", NOW, self.ORG,
                                   self.CONTACT, "https://r.example/tlsrpt")
        self.assertEqual(out.status, mtasts.Status.ERR_FETCH, out)
        self.assertFalse(out.ok)
        self.assertEqual(out.http_status, 0)
        self.assertTrue(out.reason)
        self.assertTrue(out.is_temporary)
        with self.assertRaises(mtasts.FetchError):
            out.raise_for_status()
        with self.assertRaises(mtasts.ParseError) as cm:
            self.ctx.post_report("example.com", NOW, self.ORG, self.CONTACT,
                                 "https://user@r.example/")
        self.assertIn("userinfo", str(cm.exception))
        with self.assertRaises(mtasts.NoData):
            self.ctx.post_report("example.com", NOW + 86400, self.ORG,
                                 self.CONTACT, "https://r.example/")
        with self.assertRaises(mtasts.InvalidArgument):
            self.ctx.post_report("example.com", NOW, self.ORG, "nobody",
                                 "https://r.example/")
        self.ctx.rpt_https_verify = False
        self.assertIs(self.ctx.rpt_https_verify, False)
        with self.assertRaises(mtasts.InvalidArgument):
            self.ctx.rpt_https_verify = "no"

    def test_retry_schedule_and_send_time(self):
        """RFC 8460 §5.5 backoff for up to 24 h; §4.1's send delay."""
        first, now, attempt, gaps = NOW, NOW, 1, []
        while True:
            nxt = mtasts.retry_next(first, attempt, now, 12345 * attempt)
            if nxt is None:
                break
            gaps.append(nxt - now)
            now, attempt = nxt, attempt + 1
            self.assertLess(attempt, 100)
        self.assertLess(now - first, 86400)
        self.assertGreater(now - first, 86400 - 2 * 14400)
        self.assertEqual(gaps[:8], sorted(gaps[:8]))
        self.assertGreaterEqual(gaps[0], mtasts.report.RETRY_FIRST_S)
        self.assertLessEqual(max(gaps), 14400 * 5 // 4)
        with self.assertRaises(mtasts.InvalidArgument):
            mtasts.retry_next(NOW, 0, NOW, 0)
        with self.assertRaises(mtasts.InvalidArgument):
            mtasts.retry_next(NOW, 1, NOW, -1)
        self.assertEqual(mtasts.send_time(NOW + 5, 0), NOW + 86400 + 1)
        self.assertEqual(mtasts.send_time(NOW, 2**64 - 1),
                         NOW + 86400 + 1 + (2**64 - 1) % 14400)

    def test_report_errors(self):
        with self.assertRaises(mtasts.NoData):
            self.ctx.report_json("example.com", NOW, self.ORG, self.CONTACT)
        self.record_day()
        with self.assertRaises(mtasts.NoData):
            self.ctx.report_json("example.com", NOW - 86400, self.ORG,
                                 self.CONTACT)
        with self.assertRaises(mtasts.NoData):
            self.ctx.report_gzip("other.example", NOW, self.ORG,
                                 self.CONTACT)
        with self.assertRaises(mtasts.BadDomain):
            self.ctx.report_json("bad..example", NOW, self.ORG, self.CONTACT)
        for org, contact in (("", self.CONTACT), ("x" * 257, self.CONTACT),
                             (self.ORG, "no-at-sign"), (self.ORG, "a\0b")):
            with self.subTest(org=org[:10], contact=contact):
                with self.assertRaises(mtasts.InvalidArgument):
                    self.ctx.report_json("example.com", NOW, org, contact)
        with self.assertRaises(mtasts.InvalidArgument):
            self.ctx.report_json("example.com", 2**63, self.ORG, self.CONTACT)
        with self.assertRaises(mtasts.InvalidArgument):
            self.ctx.report_mail("example.com", NOW, self.ORG, self.CONTACT,
                                 "https://r.example/x")

    def test_record_errors(self):
        with self.assertRaises(mtasts.InvalidArgument):
            self.ctx.record(self.lookup, None, "not-an-ip")
        with self.assertRaises(mtasts.InvalidArgument):
            self.ctx.record(self.lookup, None, None, sessions=0)
        with self.assertRaises(mtasts.InvalidArgument):
            self.ctx.record(self.lookup, None, None, sessions=2**32)
        with self.assertRaises(mtasts.InvalidArgument):
            self.ctx.record("example.com")
        with self.assertRaises(mtasts.InvalidArgument):
            self.ctx.record(self.lookup, "check")
        closed = self.ctx.lookup("example.com")
        closed.close()
        self.assertTrue(closed.ok)                # the copies stay
        with self.assertRaises(mtasts.InvalidArgument):
            self.ctx.record(closed)

    def test_save_load_expire(self):
        self.record_day()
        text = self.ctx.report_json("example.com", NOW, self.ORG,
                                    self.CONTACT)
        path = self.dir / "reports"
        self.ctx.report_save(path)
        other = self.context()
        self.assertTrue(other.report_load(path))
        self.assertEqual(other.report_json("example.com", NOW, self.ORG,
                                           self.CONTACT), text)
        self.assertEqual(other.report_expire(NOW), 0)   # same day stays
        self.assertGreaterEqual(other.report_expire(NOW + 86400), 1)
        with self.assertRaises(mtasts.NoData):
            other.report_json("example.com", NOW, self.ORG, self.CONTACT)
        # Errors.
        with self.assertRaises(mtasts.NotFound):
            other.report_load(self.dir / "none")
        self.assertFalse(other.report_load(self.dir / "none",
                                           missing_ok=True))
        with self.assertRaises(mtasts.LocalIOError):
            other.report_save(self.dir / "no-such-dir" / "r")
        data = path.read_bytes()
        for bad in (b"garbage", data[:-1], data + b"\0"):
            with self.subTest(size=len(bad)):
                with self.assertRaises(mtasts.ReportFileError) as cm:
                    other.report_load(self.write("bad", bad))
                self.assertTrue(cm.exception.message)
                self.assertLessEqual(cm.exception.offset, len(bad))
                self.assertEqual(cm.exception.line, 0)
        with self.assertRaises(mtasts.NoData):   # nothing was merged
            other.report_json("example.com", NOW, self.ORG, self.CONTACT)


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
        ctx.set_store(lambda d: None, lambda d, v, t: None, lambda d: None)
        # save() fsyncs twice: on tmpfs that is free, on a disk 4 ms.
        shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
        files = tempfile.TemporaryDirectory(dir=shm)
        self.addCleanup(files.cleanup)
        cache = pathlib.Path(files.name, "in.cache")
        cache.write_bytes(cache_file(REC_A))
        corrupt = pathlib.Path(files.name, "bad.cache")
        corrupt.write_bytes(cache_file(REC_A)[:-1])
        saved = pathlib.Path(files.name, "out.cache")
        reports = pathlib.Path(files.name, "reports")

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
            # The cache and the reports (the same aggregate each round).
            ctx.load(cache)
            self.assertEqual(len(ctx.entries()), 1)
            self.assertEqual(len(ctx.due(expiring_within_s=2 * 86400)), 1)
            ctx.save(saved)
            r = ctx.lookup("example.com")             # the loaded policy
            chk = ctx.verify_mx(r.policy, "mx.example.com", chain)
            ctx.record(r, chk, "192.0.2.1")
            json.loads(ctx.report_json("example.com", NOW, "Org",
                                       "r@sender.example"))
            ctx.report_gzip("example.com", NOW, "Org", "r@sender.example")
            ctx.report_save(reports)
            with mtasts.Context(clock=lambda: NOW) as other:
                other.report_load(reports)
            try:
                ctx.load(corrupt)
            except mtasts.CacheCorrupt:
                pass
            ctx.remove("example.com")
            self.assertEqual(ctx.clear(), 0)

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
