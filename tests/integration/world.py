#!/usr/bin/env python3
"""A self-contained MTA-STS test world on loopback, for libmtasts' tests.

The world is a temporary directory and the servers that serve it:

- a test CA and certificates made at start with the openssl CLI: a leaf
  for each policy host mta-sts.<domain> (some through a wildcard), and
  broken ones (expired, not yet valid, wrong name, CN only, unknown CA,
  bad wildcard);
- nsd, authoritative for the zones "test." and "example." (both reserved
  names, RFC 2606), on 127.0.0.1 and ::1 at a free port: the _mta-sts TXT
  records and the policy hosts' addresses;
- nginx on 127.0.0.1 and [::1] at one free port, a server block per policy
  host picked by SNI, and on its own 127.0.0.X address at the same port for
  cases that need their own listener (TLS versions, plain HTTP);
- small Python servers for what nginx cannot do (a response trickled one
  byte at a time, silence after accept or after the TLS handshake,
  malformed or truncated HTTP), each on its own 127.0.0.X address at the
  same port, each bounded in connections and time;
- in the full profile, a TLS report receiver (RFC 8460 §5.4) at
  https://reports.rua.test:PORT (its own 127.0.0.X, the HTTPS port) that
  stores every request in DIR/rua/ and answers by path: /ok... 201,
  /fail... 500, /redirect... 302 (see ReportReceiver).

The library reaches every policy host at one HTTPS port
(mtasts_ctx_set_https_port) and at the addresses DNS gives, so each case
that cannot share nginx gets its own loopback address in its A record.
Nothing listens anywhere but on loopback; every process and thread is
stopped on every exit path, and the world ends itself after a maximum
lifetime.

Use as a module:

    with World() as w:
        print(w.resolver, w.https_port, w.ca_file)

or from the command line:

    world.py up DIR [--profile full|demo] [--lifetime S]
    world.py down DIR
    world.py check DIR        # check a running world at the wire level
    world.py selftest         # start a world, check it, stop it

`up` prints a JSON description (also written to DIR/world.json, with a
shell-sourceable DIR/world.env) and runs until killed, until `down`, or
until its lifetime ends. Standard library only.
"""

from __future__ import annotations

import argparse
import base64
import ctypes
import dataclasses
import json
import os
import random
import select
import shlex
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import warnings

LIFETIME_S = 600  # the longest a world lives, unless told otherwise
START_TRIES = 3  # whole-world start attempts (a chosen port taken meanwhile)
READY_TRIES = 100  # readiness polls per server ...
READY_POLL_S = 0.05  # ... this far apart (5 s at most)
STOP_WAIT_S = 5.0  # wait this long after SIGTERM before SIGKILL
TOOL_TIMEOUT_S = 30  # for one openssl or nsd-checkconf run
OPENSSL_JOBS = 8  # openssl runs at once while making certificates
PORT_RANGE = (20000, 32000)  # below Linux' ephemeral ports (32768-60999)
PORT_TRIES = 200

SPECIAL_MAX_CONNS = 64  # connections one Python server accepts in its life
SPECIAL_CONN_S = 20.0  # longest time one connection is kept
SPECIAL_READ_MAX = 16384  # request head bytes read at most
RUA_HOST = "reports.rua.test"  # the report receiver (full profile)
RUA_BODY_MAX = 1 << 20  # request body bytes the receiver reads at most
TRICKLE_GAP_S = 0.1  # one response byte per this much time

POLICY_PATH = "/.well-known/mta-sts.txt"
POLICY_MAX = 65536  # MTASTS_POLICY_MAX
MARKER = ".mtasts-world"  # marks a directory that this module made

# The zones nsd serves; every name in the world is below one of them.
ZONES = ("test.", "example.")


def _find_tool(name):
    """A tool from $MTASTS_<NAME> (set by meson), PATH, or /usr/sbin."""
    env = os.environ.get("MTASTS_" + name.upper().replace("-", "_"))
    if env:
        return env
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if not found:
        package = {"nginx": "nginx-light", "nsd-checkconf": "nsd"}.get(name,
                                                                       name)
        raise WorldError(f"{name} not found (Debian package {package})")
    return found


class WorldError(Exception):
    """The world could not be built or started."""


# ---------------------------------------------------------------------------
# The domains: what each one exercises and what the library must make of it
# ---------------------------------------------------------------------------


def policy_text(mode, *mx, max_age=86400):
    """A policy body (RFC 8461 §3.2), LF line ends."""
    lines = ["version: STSv1", f"mode: {mode}"]
    lines += [f"mx: {m}" for m in mx]
    lines.append(f"max_age: {max_age}")
    return ("\n".join(lines) + "\n").encode("ascii")


def padded_policy(size, mx):
    """A valid enforce policy of exactly `size` bytes: the fields, then
    extension fields (ignored by a reader, RFC 8461 §3.2) as padding."""
    body = policy_text("enforce", mx)
    n = 0
    while len(body) < size:
        room = size - len(body)
        line = f"x{n:04d}: ".encode()
        if room <= len(line) + 1:
            raise WorldError(f"cannot pad a policy to {size} bytes")
        fill = min(64, room - len(line) - 1)
        if room - (len(line) + fill + 1) in range(1, 10):
            fill -= 10  # never leave a remainder too short for a line
        body += line + b"a" * fill + b"\n"
        n += 1
    assert len(body) == size
    return body


@dataclasses.dataclass
class Domain:
    """One policy domain of the world and the case it exercises.

    host says how mta-sts.<name> is served:
      "nginx"  the shared nginx server (127.0.0.1, ::1), picked by SNI
      "nginx-own"  nginx on its own 127.0.0.X (own TLS versions, or plain)
      "trickle", "silent-tcp", "silent-tls", "raw"  a Python server on its
               own 127.0.0.X (see SpecialServer)
      "closed"  an own 127.0.0.X where nothing listens
      "none"   no server and no address record
    wire is what a plain client sees there (checked by World.check()).
    expect is what mtasts_lookup_result() must give.
    """

    name: str
    case: str
    checklist: tuple
    expect: dict
    txt: list | None = None  # TXT RRs at _mta-sts.NAME, each a list of strings
    txt_cname: str | None = None  # _mta-sts.NAME is a CNAME to this name
    host: str = "nginx"
    host_dns: str = "addr"  # "addr", "aaaa" (AAAA only), "cname:TARGET"
    cert: str = "leaf"
    body: bytes | None = None  # the file served at POLICY_PATH
    nginx: str = ""  # directives added to the policy location
    tls: str = ""  # nginx-own: ssl_protocols (and ciphers); "" for plain HTTP
    payload: bytes = b""  # raw and trickle: the bytes sent
    wire: str = "policy"
    addr4: str | None = None  # filled in by the world
    addr6: str | None = None

    @property
    def policy_host(self):
        return "mta-sts." + self.name


def _ok(mode, mx, txt_id):
    return {"status": "MTASTS_OK", "mode": mode, "mx": list(mx),
            "id": txt_id, "failure": "none"}


def _fail(status, failure="none"):
    return {"status": status, "failure": failure}


FETCH = _fail("MTASTS_ERR_FETCH", "sts-policy-fetch-error")
WEBPKI = _fail("MTASTS_ERR_WEBPKI", "sts-webpki-invalid")
INVALID = _fail("MTASTS_ERR_POLICY_INVALID", "sts-policy-invalid")
NO_POLICY = _fail("MTASTS_ERR_NO_POLICY")
TEMPFAIL = _fail("MTASTS_ERR_DNS_TEMPFAIL")


def _http_response(body):
    """A complete HTTP/1.1 200 text/plain response."""
    return (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
            b"Content-Length: " + str(len(body)).encode()
            + b"\r\nConnection: close\r\n\r\n" + body)


def full_domains(ipv6):
    """Every case of the integration tests."""
    d = []

    def add(name, case, checklist, expect, **kw):
        d.append(Domain(name, case, tuple(checklist.split()), expect, **kw))

    def sts(txt_id):
        return [[f"v=STSv1; id={txt_id}"]]

    # ---- policies that must be applied
    add("valid.test", "valid enforce policy; the response also carries "
        "Cache-Control: max-age=60, which must not shorten the lifetime",
        "R8461-3.2-a R8461-3.3-b R8461-3.3-f R8461-3.3-i R8461-7.1-a",
        _ok("enforce", ["mail.valid.test", "*.backup.valid.test"], "valid1"),
        txt=sts("valid1"),
        body=policy_text("enforce", "mail.valid.test", "*.backup.valid.test"),
        nginx='add_header Cache-Control "max-age=60";')
    add("testing.test", "valid policy in mode testing", "R8461-3.2-h",
        _ok("testing", ["mail.testing.test"], "testing1"),
        txt=sts("testing1"), body=policy_text("testing", "mail.testing.test"))
    add("none.test", "valid policy in mode none, no mx", "R8461-8.3-a",
        _ok("none", [], "none1"), txt=sts("none1"), body=policy_text("none"))
    add("wild.test", "policy host certificate with SAN *.wild.test only",
        "R8461-3.3-d", _ok("enforce", ["mail.wild.test"], "wild1"),
        txt=sts("wild1"), cert="wildcard",
        body=policy_text("enforce", "mail.wild.test"))
    add("charset.test", "Content-Type: Text/Plain; charset=UTF-8 "
        "(type case-insensitive, parameters ignored)",
        "R8461-3.2-b R8461-3.2-c",
        _ok("enforce", ["mail.charset.test"], "charset1"),
        txt=sts("charset1"), body=policy_text("enforce", "mail.charset.test"),
        nginx='default_type "Text/Plain; charset=UTF-8";')
    add("split.test", 'TXT RR of two character-strings "v=STSv1; id=" '
        '"split1"', "R8461-3.1-b",
        _ok("enforce", ["mail.split.test"], "split1"),
        txt=[["v=STSv1; id=", "split1"]],
        body=policy_text("enforce", "mail.split.test"))
    add("splitmid.test", 'TXT RR split inside the version: "v=STS" '
        '"v1; id=splitmid1"', "R8461-3.1-b",
        _ok("enforce", ["mail.splitmid.test"], "splitmid1"),
        txt=[["v=STS", "v1; id=splitmid1"]],
        body=policy_text("enforce", "mail.splitmid.test"))
    add("txtmixed.test", "an SPF TXT record beside the one STS record",
        "R8461-3.1-c", _ok("enforce", ["mail.txtmixed.test"], "mixed1"),
        txt=[["v=spf1 -all"], ["v=STSv1; id=mixed1"]],
        body=policy_text("enforce", "mail.txtmixed.test"))
    add("provider.example", "the policy provider's own domain (target of "
        "the CNAME delegations)", "R8461-3.1-m",
        _ok("enforce", ["mail.provider.example"], "provider1"),
        txt=sts("provider1"),
        body=policy_text("enforce", "mail.provider.example"))
    add("deleg.test", "_mta-sts CNAME to _mta-sts.provider.example (another "
        "zone); the policy still comes from mta-sts.deleg.test",
        "R8461-3.1-m R8461-3.1-n",
        _ok("enforce", ["mail.deleg.test"], "provider1"),
        txt_cname="_mta-sts.provider.example.",
        body=policy_text("enforce", "mail.deleg.test"))
    add("chain.test", "_mta-sts CNAME chain of two steps to "
        "_mta-sts.provider.example", "R8461-3.1-m R8461-3.1-n",
        _ok("enforce", ["mail.chain.test"], "provider1"),
        txt_cname="_mta-sts.chain-hop.test.",
        body=policy_text("enforce", "mail.chain.test"))
    add("hostcname.test", "the policy host is a CNAME to "
        "web.provider.example; SNI and name check stay mta-sts.hostcname.test",
        "R8461-3.2-a R8461-7.1-a",
        _ok("enforce", ["mail.hostcname.test"], "hostcname1"),
        txt=sts("hostcname1"), host_dns="cname:web.provider.example.",
        body=policy_text("enforce", "mail.hostcname.test"))
    add("exact64k.test", "policy body of exactly 65536 bytes, with "
        "Content-Length", "R8461-3.3-k",
        _ok("enforce", ["mail.exact64k.test"], "exact1"),
        txt=sts("exact1"),
        body=padded_policy(POLICY_MAX, "mail.exact64k.test"))
    add("exact64kchunked.test", "policy body of exactly 65536 bytes, "
        "chunked (no Content-Length)", "R8461-3.3-k",
        _ok("enforce", ["mail.exact64kchunked.test"], "exactchunked1"),
        txt=sts("exactchunked1"),
        body=padded_policy(POLICY_MAX, "mail.exact64kchunked.test"),
        nginx=NGINX_CHUNKED, wire="policy-chunked")
    add("tls12.test", "policy server speaking TLS 1.2 only", "R8461-7.2-a",
        _ok("enforce", ["mail.tls12.test"], "tls121"),
        txt=sts("tls121"), host="nginx-own", tls="TLSv1.2",
        body=policy_text("enforce", "mail.tls12.test"))
    add("tls13.test", "policy server speaking TLS 1.3 only (fails with a "
        "TLS stack without 1.3, e.g. mbedTLS 2.28; TLS 1.2 suffices)",
        "R8461-7.2-a", {"status": "MTASTS_OK or MTASTS_ERR_FETCH"},
        txt=sts("tls131"), host="nginx-own", tls="TLSv1.3",
        body=policy_text("enforce", "mail.tls13.test"), wire="tls13-only")
    if ipv6:
        add("v6only.test", "policy host with an AAAA record (::1) only",
            "R8461-3.2-a", _ok("enforce", ["mail.v6only.test"], "v6only1"),
            txt=sts("v6only1"), host_dns="aaaa",
            body=policy_text("enforce", "mail.v6only.test"))

    # ---- no usable TXT record (the policy hosts serve a valid policy as
    # a trap: a lookup that fetched anyway would find one)
    add("nxdomain.test", "no _mta-sts name at all (NXDOMAIN)", "R8461-3.1-d",
        NO_POLICY, host="none", wire="-")
    add("notxt.test", "zero STS TXT records: only v=spf1", "R8461-3.1-c "
        "R8461-3.1-d", NO_POLICY, txt=[["v=spf1 -all"]], wire="-")
    add("nodata.test", "_mta-sts name with an A record and no TXT (NODATA)",
        "R8461-3.1-d", NO_POLICY, txt=[], wire="-")
    add("twotxt.test", "two STS TXT records", "R8461-3.1-d", NO_POLICY,
        txt=[["v=STSv1; id=two1"], ["v=STSv1; id=two2"]], wire="-")
    add("badtxt.test", "one STS TXT record with a syntax error "
        "(v=STSv1; id=bad!)", "R8461-3.1-e", NO_POLICY,
        txt=[["v=STSv1; id=bad!"]], wire="-")
    add("loop.test", "_mta-sts CNAME loop of two names", "R8461-3.1-m",
        {"status": "MTASTS_ERR_DNS_TEMPFAIL or MTASTS_ERR_NO_POLICY",
         "failure": "none"}, txt_cname="_mta-sts.loop-back.test.", wire="-")
    add("dangling.test", "_mta-sts CNAME to a name that does not exist",
        "R8461-3.1-m", NO_POLICY, txt_cname="_mta-sts.nowhere.test.",
        wire="-")
    add("outside.invalid", "a name outside the served zones: the server "
        "answers REFUSED", "R8461-3.1-p", TEMPFAIL, host="none", wire="-")

    # ---- the policy cannot be fetched
    add("noaddr.test", "policy host without A/AAAA records (NXDOMAIN)",
        "R8461-3.3-l", FETCH, txt=sts("noaddr1"), host="none",
        wire="no-address")
    add("refused.test", "policy host address where nothing listens",
        "R8461-3.3-l", FETCH, txt=sts("refused1"), host="closed",
        wire="refused")
    add("notfound.test", "HTTP 404", "R8461-3.3-g", FETCH,
        txt=sts("notfound1"), wire="status 404")
    add("status500.test", "HTTP 500", "R8461-3.3-g", FETCH,
        txt=sts("status5001"), nginx="return 500;", wire="status 500")
    add("redirect.test", "HTTP 301 to the valid policy of valid.test",
        "R8461-3.3-h", FETCH, txt=sts("redirect1"),
        nginx="return 301 https://mta-sts.valid.test:$server_port"
        + POLICY_PATH + ";", wire="status 301")
    add("html.test", "Content-Type: text/html with a valid policy body",
        "R8461-3.2-b", FETCH, txt=sts("html1"),
        body=policy_text("enforce", "mail.html.test"),
        nginx="default_type text/html;", wire="ctype text/html")
    add("notype.test", "no Content-Type with a valid policy body",
        "R8461-3.2-b", FETCH, txt=sts("notype1"),
        body=policy_text("enforce", "mail.notype.test"),
        nginx='default_type "";', wire="ctype none")
    add("big.test", "body of 70000 bytes with Content-Length", "R8461-3.3-k",
        FETCH, txt=sts("big1"), body=padded_policy(70000, "mail.big.test"),
        wire="policy")
    add("bigchunked.test", "body of 70000 bytes, chunked (no "
        "Content-Length)", "R8461-3.3-k", FETCH, txt=sts("bigchunked1"),
        body=padded_policy(70000, "mail.bigchunked.test"),
        nginx=NGINX_CHUNKED, wire="policy-chunked")
    add("over64k.test", "a valid policy of 65537 bytes (cap + 1), with "
        "Content-Length", "R8461-3.3-k", FETCH, txt=sts("over1"),
        body=padded_policy(POLICY_MAX + 1, "mail.over64k.test"))
    add("badpolicy.test", "HTTP 200 text/plain, policy with mode: bogus",
        "R8461-3.2-h R8461-3.3-l", INVALID, txt=sts("badpolicy1"),
        body=b"version: STSv1\nmode: bogus\nmx: mail.badpolicy.test\n"
        b"max_age: 86400\n")
    add("plainhttp.test", "policy served over plain HTTP only (no TLS)",
        "R8461-3.3-a", FETCH, txt=sts("plain1"), host="nginx-own", tls="",
        body=policy_text("enforce", "mail.plainhttp.test"), wire="plaintext")
    add("tls10.test", "policy server speaking TLS 1.0 and 1.1 only",
        "R8461-7.2-b", FETCH, txt=sts("tls101"), host="nginx-own",
        tls="TLSv1 TLSv1.1",
        body=policy_text("enforce", "mail.tls10.test"), wire="tls-old")
    trickled = _http_response(policy_text("enforce", "mail.slow.test"))
    add("slow.test", f"valid response trickled one byte per "
        f"{int(TRICKLE_GAP_S * 1000)} ms ({len(trickled)} bytes): hits the "
        "total fetch timeout", "R8461-3.3-k", FETCH, txt=sts("slow1"),
        host="trickle", payload=trickled, wire="timeout")
    add("hang.test", "TCP server that accepts and never answers (no TLS "
        "handshake)", "R8461-3.3-k", FETCH, txt=sts("hang1"),
        host="silent-tcp", wire="timeout")
    add("hangtls.test", "TLS handshake completes, then no HTTP response",
        "R8461-3.3-k", FETCH, txt=sts("hangtls1"), host="silent-tls",
        wire="timeout")
    add("malformed.test", "response that is not HTTP", "R8461-3.3-l", FETCH,
        txt=sts("malformed1"), host="raw",
        payload=b"SMTP? 220 this is not HTTP\r\n\r\n", wire="malformed")
    add("badlength.test", "HTTP 200 text/plain with Content-Length: 12x",
        "R8461-3.3-l", FETCH, txt=sts("badlength1"), host="raw",
        payload=(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                 b"Content-Length: 12x\r\nConnection: close\r\n\r\n"
                 + policy_text("enforce", "mail.badlength.test")),
        wire="malformed")
    truncated = policy_text("enforce", "mail.truncated.test")
    add("truncated.test", "Content-Length 1000 but the connection closes "
        f"after {len(truncated)} bytes (themselves a valid policy)",
        "R8461-3.3-k", FETCH, txt=sts("truncated1"), host="raw",
        payload=(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                 b"Content-Length: 1000\r\nConnection: close\r\n\r\n"
                 + truncated), wire="truncated")

    # ---- certificates that must be refused
    for name, cert, what, ids in (
            ("expired", "expired", "expired in 2020", "R8461-3.3-b"),
            ("notyet", "notyet", "valid only from 2099", "R8461-3.3-b"),
            ("wrongname", "wrongname", "for www.wrongname.test (SAN), "
             "CN mta-sts.wrongname.test", "R8461-3.3-b R8461-3.3-c"),
            ("cnonly", "cnonly", "CN mta-sts.cnonly.test and no SAN",
             "R8461-3.3-c"),
            ("unknownca", "unknownca", "signed by a CA not in the CA file",
             "R8461-3.3-b R8461-3.3-f"),
            ("badwild", "badwild", "SAN m*.badwild.test (a partial "
             "wildcard)", "R8461-3.3-d")):
        add(f"{name}.test", f"policy host certificate {what}", ids, WEBPKI,
            txt=sts(name + "1"), cert=cert, wire="cert " + cert,
            body=policy_text("enforce", f"mail.{name}.test"))

    # ---- whole-domain checks (mtasts-query --probe, examples/openssl-mta):
    # policies over the MX hosts of mx_hosts(), MX records in PROBE_MX
    add("mxprobe.test", "enforce policy listing valid.mx.test and "
        "multiline.mx.test; its MX records also name hosts outside it",
        "R8461-4-a R8461-5-a", _ok("enforce", ["valid.mx.test",
                                               "multiline.mx.test"],
                                   "mxprobe1"),
        txt=sts("mxprobe1"),
        body=policy_text("enforce", "valid.mx.test", "multiline.mx.test"))
    add("mxtesting.test", "testing policy listing wrongname.mx.test, whose "
        "certificate is for another name", "R8461-5-b",
        _ok("testing", ["wrongname.mx.test"], "mxtesting1"),
        txt=sts("mxtesting1"), body=policy_text("testing", "wrongname.mx.test"))

    for dom in d:
        if dom.wire == "-" and dom.host == "nginx":
            dom.body = policy_text("enforce", "mail." + dom.name)  # the trap
    return d


def demo_domains(ipv6):
    """The README's world: one domain with a valid enforce policy."""
    del ipv6
    return [Domain("example.test", "valid enforce policy", ("R8461-3.2-a",),
                   _ok("enforce", ["mail.example.test", "*.mx.example.test"],
                       "20240101T000000"),
                   txt=[["v=STSv1; id=20240101T000000"]],
                   body=policy_text("enforce", "mail.example.test",
                                    "*.mx.example.test", max_age=604800))]


PROFILES = {"full": full_domains, "demo": demo_domains}


# ---------------------------------------------------------------------------
# The MX hosts: SMTP servers for mtasts_probe_mx()
# ---------------------------------------------------------------------------


@dataclasses.dataclass
class MxHost:
    """One MX host of the world (name NAME.mx.test) and the case it is.

    kind says what its SMTP server does (see SmtpServer); "closed" is an
    own 127.0.0.X where nothing listens, "none" a name without address.
    cert is its certificate, as for Domain. expect is what
    mtasts_probe_mx() must give: status, tls (RFC 8460 result type) and
    code (mtasts_mx_check_reason_code()).
    """

    name: str
    kind: str
    case: str
    checklist: tuple
    expect: dict
    cert: str = "leaf"
    v6: bool = False  # served on ::1 (AAAA only) instead of 127.0.0.X
    addr4: str | None = None  # filled in by the world
    addr6: str | None = None

    @property
    def tls(self):
        """Whether its server does a TLS handshake (and needs a cert)."""
        return self.kind in ("starttls", "multiline")


def _probe(status="MTASTS_OK", tls="none", code=""):
    return {"status": status, "tls": tls, "code": code}


def mx_hosts(ipv6):
    """Every MX case of the probe's integration tests."""
    m = []

    def add(name, kind, case, checklist, expect, **kw):
        m.append(MxHost(name + ".mx.test", kind, case,
                        tuple(checklist.split()), expect, **kw))

    add("valid", "starttls", "STARTTLS, certificate for the MX name (SAN) "
        "from the test CA; the right certificate only with SNI",
        "R8461-4-a R8461-7.1-b", _probe())
    add("multiline", "multiline", "multi-line banner, multi-line EHLO reply "
        "with 'starttls' in lower case on an inner line", "R8461-4-a",
        _probe())
    if ipv6:
        add("v6", "starttls", "STARTTLS on ::1 (AAAA record only)",
            "R8461-4-a", _probe(), v6=True)
    add("wrongname", "starttls", "certificate for www.mx.test (SAN), CN "
        "wrongname.mx.test", "R8461-4.2-c R8461-6-c",
        _probe(tls="certificate-host-mismatch",
               code="certificate-host-mismatch"), cert="wrongname")
    add("expired", "starttls", "certificate expired in 2020",
        "R8461-4.2-a R8461-6-c",
        _probe(tls="certificate-expired", code="certificate-expired"),
        cert="expired")
    add("cnonly", "starttls", "certificate with CN cnonly.mx.test and no "
        "SAN", "R8461-4.2-c", _probe(tls="certificate-host-mismatch",
                                     code="certificate-host-mismatch"),
        cert="cnonly")
    add("unknownca", "starttls", "certificate from a CA not in the CA file",
        "R8461-4.2-b R8461-6-c",
        _probe(tls="certificate-not-trusted", code="certificate-not-trusted"),
        cert="unknownca")
    add("nostarttls", "no-starttls", "EHLO reply without STARTTLS",
        "R8461-4-a R8461-6-c",
        _probe(tls="starttls-not-supported", code="starttls-not-offered"))
    add("refused", "starttls-454", "STARTTLS answered 454", "R8461-6-c",
        _probe(tls="starttls-not-supported", code="starttls-refused"))
    add("badtls", "badtls", "220 to STARTTLS, then bytes that are not TLS "
        "and close", "R8461-5-a R8461-6-c",
        _probe(tls="validation-failure", code="tls-handshake"))
    add("inject", "inject", "220 to STARTTLS and a plaintext reply in the "
        "same segment, before any TLS", "R8461-5-a R8461-6-c",
        _probe(tls="validation-failure", code="tls-handshake"))
    add("silent", "silent", "accepts, never speaks", "R8461-5.1-d",
        _probe("MTASTS_ERR_TIMEOUT"))
    add("stall", "stall-ehlo", "banner, then no reply to EHLO",
        "R8461-5.1-d", _probe("MTASTS_ERR_TIMEOUT"))
    add("garbage", "garbage", "an HTTP error instead of a banner",
        "R8461-5.1-d", _probe("MTASTS_ERR_PROTOCOL"))
    add("banner554", "banner554", "banner 554", "R8461-5.1-d",
        _probe("MTASTS_ERR_PROTOCOL"))
    add("closed", "closed", "nothing listens", "R8461-5.1-d",
        _probe("MTASTS_ERR_CONNECT"))
    add("noaddr", "none", "no A or AAAA record", "R8461-5.1-d",
        _probe("MTASTS_ERR_CONNECT"))
    return m

# nginx drops Content-Length when a filter rewrites the body: sub_filter
# with a pattern that never matches leaves it unchanged but chunked (or,
# for an HTTP/1.0 client, delimited by closing the connection).
NGINX_CHUNKED = ("sub_filter_types *; sub_filter_once on; "
                 "sub_filter 'no-such-text-in-any-policy' 'x';")

# Extra DNS records beside those the domains imply.
EXTRA_RECORDS = (
    ("_mta-sts.chain-hop.test.", "CNAME", "_mta-sts.provider.example."),
    ("_mta-sts.loop-back.test.", "CNAME", "_mta-sts.loop.test."),
    # MX records of the whole-domain checks (full_domains: mxprobe.test,
    # mxtesting.test; mxplain.test has no policy)
    ("mxprobe.test.", "MX", "10 valid.mx.test."),
    ("mxprobe.test.", "MX", "20 wrongname.mx.test."),
    ("mxprobe.test.", "MX", "30 nostarttls.mx.test."),
    ("mxprobe.test.", "MX", "40 closed.mx.test."),
    ("mxtesting.test.", "MX", "10 wrongname.mx.test."),
    ("mxplain.test.", "MX", "10 nostarttls.mx.test."),
    # _smtp._tls records (RFC 8460 §3) for mtasts-query --tlsrpt
    ("_smtp._tls.mxprobe.test.", "TXT",
     '"v=TLSRPTv1; rua=mailto:tlsrpt@mxprobe.test," '
     '" https://reports.mxprobe.test/v1"'),
    ("_smtp._tls.mxprobe.test.", "TXT", '"v=spf1 -all"'),
    ("_smtp._tls.mxplain.test.", "TXT", '"v=TLSRPTv1; rua=ftp://x.test/"'),
    ("_smtp._tls.mxtesting.test.", "TXT",
     '"v=TLSRPTv1 rua=mailto:tlsrpt@mxtesting.test"'),
)


# ---------------------------------------------------------------------------
# A small DNS client (readiness checks and World.check)
# ---------------------------------------------------------------------------

QTYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "TXT": 16, "AAAA": 28}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN",
          4: "NOTIMP", 5: "REFUSED"}


def _dns_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode("ascii")
    return out + b"\0"


def _read_name(msg, off):
    labels, end, hops = [], None, 0
    while True:
        n = msg[off]
        if n & 0xC0 == 0xC0:
            if end is None:
                end = off + 2
            off = ((n & 0x3F) << 8) | msg[off + 1]
            hops += 1
            if hops > 64:
                raise ValueError("DNS name compression loop")
            continue
        off += 1
        if n == 0:
            break
        labels.append(msg[off:off + n].decode("ascii").lower())
        off += n
    return ".".join(labels) + ".", (end if end is not None else off)


def dns_query(server, port, name, qtype, timeout=1.0):
    """One UDP query; returns (rcode name, [(owner, type, data)]).
    data: an address string (A, AAAA), a name (CNAME), a list of bytes
    (TXT: the character-strings), raw bytes otherwise."""
    qid = random.randrange(65536)
    msg = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    msg += _dns_name(name) + struct.pack("!HH", QTYPES[qtype], 1)
    family = socket.AF_INET6 if ":" in server else socket.AF_INET
    deadline = time.monotonic() + timeout
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.sendto(msg, (server, port))
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no DNS answer for {name} {qtype}")
            s.settimeout(left)
            data = s.recv(65535)
            if len(data) >= 12 and struct.unpack("!H", data[:2])[0] == qid:
                break
    _, flags, qd, an, _, _ = struct.unpack("!HHHHHH", data[:12])
    if flags & 0x0200:
        raise ValueError(f"truncated DNS answer for {name} {qtype}")
    off = 12
    for _ in range(qd):
        _, off = _read_name(data, off)
        off += 4
    records = []
    rtypes = {v: k for k, v in QTYPES.items()}
    for _ in range(an):
        owner, off = _read_name(data, off)
        rtype, _, _, rdlen = struct.unpack("!HHIH", data[off:off + 10])
        off += 10
        rdata = data[off:off + rdlen]
        tname = rtypes.get(rtype, str(rtype))
        if tname == "A":
            value = socket.inet_ntop(socket.AF_INET, rdata)
        elif tname == "AAAA":
            value = socket.inet_ntop(socket.AF_INET6, rdata)
        elif tname == "CNAME":
            value = _read_name(data, off)[0]
        elif tname == "TXT":
            value, i = [], 0
            while i < len(rdata):
                value.append(rdata[i + 1:i + 1 + rdata[i]])
                i += 1 + rdata[i]
        else:
            value = rdata
        records.append((owner, tname, value))
        off += rdlen
    return RCODES.get(flags & 0xF, str(flags & 0xF)), records


def dns_resolve(server, port, name, qtype, max_hops=16):
    """Query and follow CNAMEs (in the answer, or by asking again).
    Returns (rcode, records of qtype at the end, chain of names); the
    rcode is "LOOP" for a CNAME loop, NOERROR with no records for NODATA."""
    chain = [name.rstrip(".").lower() + "."]
    rcode, records = dns_query(server, port, chain[0], qtype)
    for _ in range(max_hops):
        if rcode != "NOERROR":
            return rcode, [], chain
        cur = chain[-1]
        found = [v for o, t, v in records if o == cur and t == qtype]
        if found:
            return rcode, found, chain
        cname = [v for o, t, v in records if o == cur and t == "CNAME"]
        if not cname:
            return rcode, [], chain
        if cname[0] in chain:
            return "LOOP", [], chain + [cname[0]]
        chain.append(cname[0])
        if not any(o == cname[0] for o, _, _ in records):
            rcode, records = dns_query(server, port, cname[0], qtype)
    return "LOOP", [], chain


# ---------------------------------------------------------------------------
# Processes and ports
# ---------------------------------------------------------------------------

_LIBC = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent_pid):
    """preexec_fn: the child gets SIGTERM when the world's thread dies."""

    def setup():
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent_pid:
            os._exit(1)

    return setup


def _port_free(addr, port, kinds):
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    for kind in kinds:
        with socket.socket(family, kind) as s:
            try:
                s.bind((addr, port))
            except OSError:
                return False
    return True


def pick_port(addrs, kinds=(socket.SOCK_STREAM,)):
    """A port free on every address, for every socket kind."""
    for _ in range(PORT_TRIES):
        port = random.randrange(*PORT_RANGE)
        if all(_port_free(a, port, kinds) for a in addrs):
            return port
    raise WorldError("no free port found")


def ipv6_available():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def _alive(pid):
    """Whether pid runs (a zombie, dead but not yet reaped, does not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def _kill_pid(pid, wait_s=STOP_WAIT_S, expect=None):
    """SIGTERM, wait, SIGKILL. `expect`: only if argv[0] ends with it."""
    if pid <= 1 or not _alive(pid):
        return
    if expect is not None:
        argv0 = _cmdline(pid)[:1]
        if not argv0 or not os.path.basename(argv0[0]).decode(
                errors="replace").startswith(expect):
            return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    end = time.monotonic() + wait_s
    while time.monotonic() < end:
        if not _alive(pid):
            return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _stop_child(proc):
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(STOP_WAIT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(STOP_WAIT_S)


# ---------------------------------------------------------------------------
# Purpose-built servers
# ---------------------------------------------------------------------------


class SpecialServer:
    """A bounded TCP or TLS server on one loopback address.

    kinds: "trickle" (TLS; after the request head, sends payload one byte
    per TRICKLE_GAP_S), "silent-tcp" (accepts, never writes), "silent-tls"
    (TLS handshake, then never writes), "raw" (TLS; after the request head,
    sends payload and closes). It accepts at most SPECIAL_MAX_CONNS
    connections, keeps each at most SPECIAL_CONN_S, and stops at the
    world's deadline or stop().
    """

    def __init__(self, kind, addr, port, tls_ctx, payload, deadline):
        self.kind, self.tls_ctx, self.payload = kind, tls_ctx, payload
        self.deadline = deadline
        self.stopping = threading.Event()
        self.threads = []
        family = socket.AF_INET6 if ":" in addr else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((addr, port))
        self.sock.listen(16)
        self.accepted = 0

    def start(self):
        t = threading.Thread(target=self._serve, daemon=True)
        t.start()
        self.threads.append(t)

    def stop(self):
        self.stopping.set()
        for t in list(self.threads):
            t.join(2.0)
        self.sock.close()

    def _serve(self):
        while (not self.stopping.is_set() and time.monotonic() < self.deadline
               and self.accepted < SPECIAL_MAX_CONNS):
            ready, _, _ = select.select([self.sock], [], [], 0.2)
            if not ready:
                continue
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            t = threading.Thread(target=self._handle, args=(conn,),
                                 daemon=True)
            t.start()
            self.threads.append(t)

    def _end(self):
        return min(self.deadline, time.monotonic() + SPECIAL_CONN_S)

    def _wait_readable(self, conn, end):
        """Until readable, the end, or stop(); False unless readable."""
        while not self.stopping.is_set() and time.monotonic() < end:
            if isinstance(conn, ssl.SSLSocket) and conn.pending():
                return True
            ready, _, _ = select.select([conn], [], [], 0.2)
            if ready:
                return True
        return False

    def _drain(self, conn, end):
        """Read and drop until the peer closes, the end, or stop()."""
        while self._wait_readable(conn, end):
            try:
                if not conn.recv(4096):
                    return
            except ssl.SSLWantReadError:
                continue

    def _read_head(self, conn, end):
        data = b""
        while b"\r\n\r\n" not in data and len(data) < SPECIAL_READ_MAX:
            if not self._wait_readable(conn, end):
                return None
            try:
                chunk = conn.recv(4096)
            except ssl.SSLWantReadError:
                continue
            if not chunk:
                return None
            data += chunk
        return data

    def _respond(self, conn, data, end):
        """After the request head (data, non-blocking conn): raw or
        trickle the payload."""
        conn.setblocking(True)
        conn.settimeout(5.0)
        if self.kind == "raw":
            conn.sendall(self.payload)
            return
        for i in range(len(self.payload)):  # trickle
            if self.stopping.wait(TRICKLE_GAP_S) or \
                    time.monotonic() >= end:
                return
            conn.sendall(self.payload[i:i + 1])

    def _handle(self, conn):
        end = self._end()
        try:
            if self.kind == "silent-tcp":
                self._drain(conn, end)
                return
            conn.settimeout(max(0.1, min(5.0, end - time.monotonic())))
            conn = self.tls_ctx.wrap_socket(conn, server_side=True)
            conn.setblocking(False)
            if self.kind == "silent-tls":
                self._drain(conn, end)
                return
            data = self._read_head(conn, end)
            if data is None:
                return
            self._respond(conn, data, end)
        except (OSError, ssl.SSLError, ValueError):
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass


class ReportReceiver(SpecialServer):
    """A TLS report receiver (RFC 8460 §5.4): reads one request (head and
    a Content-Length body of at most RUA_BODY_MAX bytes), stores it as
    DIR/NNNN.json (method, target, header fields with lower-case names,
    the body in base64) and answers by the path: /ok... 201, /fail... 500,
    /redirect... 302 to /ok, anything else 404."""

    ANSWERS = (("/ok", b"201 Created"), ("/fail", b"500 Internal Error"),
               ("/redirect", b"302 Found"))

    def __init__(self, addr, port, tls_ctx, deadline, store):
        super().__init__("rua", addr, port, tls_ctx, b"", deadline)
        self.store = store
        self.count = 0
        self.lock = threading.Lock()

    def _read_body(self, conn, data, end):
        head, _, body = data.partition(b"\r\n\r\n")
        fields = {}
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            fields[name.strip().lower().decode("latin-1")] = \
                value.strip().decode("latin-1")
        want = int(fields.get("content-length", "0") or "0")
        if want > RUA_BODY_MAX:
            raise ValueError("body too large")
        while len(body) < want:
            if not self._wait_readable(conn, end):
                raise ValueError("body cut short")
            try:
                chunk = conn.recv(65536)
            except ssl.SSLWantReadError:
                continue
            if not chunk:
                raise ValueError("body cut short")
            body += chunk
        return head.split(b"\r\n")[0].decode("latin-1"), fields, body[:want]

    def _respond(self, conn, data, end):
        line, fields, body = self._read_body(conn, data, end)
        method, _, rest = line.partition(" ")
        target = rest.rpartition(" ")[0]
        with self.lock:
            self.count += 1
            name = os.path.join(self.store, f"{self.count:04d}.json")
        with open(name + ".tmp", "w") as f:
            json.dump({"method": method, "target": target, "fields": fields,
                       "body": base64.b64encode(body).decode()}, f)
        os.replace(name + ".tmp", name)
        status = b"404 Not Found"
        for prefix, answer in self.ANSWERS:
            if target.startswith(prefix):
                status = answer
        extra = b""
        if status.startswith(b"302"):
            extra = b"Location: /ok\r\n"
        conn.setblocking(True)
        conn.settimeout(5.0)
        conn.sendall(b"HTTP/1.1 " + status + b"\r\n" + extra
                     + b"Content-Type: text/plain\r\n"
                     b"Content-Length: 3\r\nConnection: close\r\n"
                     b"\r\nok\n")


class SmtpServer(SpecialServer):
    """A bounded SMTP server for one MX host (RFC 5321, RFC 3207).

    kinds: "starttls" (EHLO offers STARTTLS, 220, TLS handshake, then
    QUIT), "multiline" (the same with multi-line banner and EHLO reply,
    STARTTLS in lower case on an inner line), "no-starttls", "starttls-454"
    (STARTTLS refused), "badtls" (220 to STARTTLS, then after the
    ClientHello bytes that are not TLS, and close), "inject" (220 to
    STARTTLS and "250 injected" in one segment), "silent" (accepts, never writes), "stall-ehlo" (banner,
    then silence), "garbage" (an HTTP error line instead of a banner),
    "banner554". The TLS context presents the MX's certificate only when
    the client's SNI is the MX name, another one otherwise. Bounds as
    SpecialServer.
    """

    def __init__(self, mx, addr, port, tls_ctx, deadline):
        super().__init__(mx.kind, addr, port, tls_ctx, b"", deadline)
        self.mx = mx

    def _send(self, conn, data):
        conn.setblocking(True)
        conn.settimeout(5.0)
        conn.sendall(data)
        conn.setblocking(False)

    def _lines(self, conn, end):
        """Command lines until the peer closes, the end, or stop()."""
        buf = b""
        while True:
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                yield line.rstrip(b"\r")
            if len(buf) > SPECIAL_READ_MAX or \
                    not self._wait_readable(conn, end):
                return
            try:
                chunk = conn.recv(4096)
            except ssl.SSLWantReadError:
                continue
            if not chunk:
                return
            buf += chunk

    def _banner(self):
        n = self.mx.name.encode()
        if self.kind == "multiline":
            return (b"220-" + n + b" ESMTP libmtasts test\r\n"
                    b"220-this server greets\r\n220 in three lines\r\n")
        if self.kind == "banner554":
            return b"554 5.3.2 " + n + b" takes no mail\r\n"
        return b"220 " + n + b" ESMTP libmtasts test\r\n"

    def _ehlo(self, tls):
        n = self.mx.name.encode()
        if tls:
            return b"250-" + n + b"\r\n250 PIPELINING\r\n"
        if self.kind == "multiline":
            return (b"250-" + n + b" greets you\r\n250-PIPELINING\r\n"
                    b"250-starttls\r\n250-SIZE 1000000\r\n250 SMTPUTF8\r\n")
        if self.kind == "no-starttls":
            return (b"250-" + n + b"\r\n250-PIPELINING\r\n"
                    b"250 8BITMIME\r\n")
        return (b"250-" + n + b"\r\n250-PIPELINING\r\n250-SIZE 1000000\r\n"
                b"250-STARTTLS\r\n250 8BITMIME\r\n")

    def _starttls(self, conn, end):
        """After 220: the TLS socket, or None."""
        if self.kind == "badtls":
            # after the ClientHello, so that the client is in its handshake
            if self._wait_readable(conn, end):
                conn.recv(4096)
            self._send(conn, b"this is not TLS\r\n")
            return None
        conn.setblocking(True)
        conn.settimeout(max(0.1, min(5.0, end - time.monotonic())))
        tls = self.tls_ctx.wrap_socket(conn, server_side=True)
        tls.setblocking(False)
        return tls

    def _session(self, conn, end, tls):
        for line in self._lines(conn, end):
            verb = line.split(b" ", 1)[0].upper()
            if verb in (b"EHLO", b"HELO"):
                if self.kind == "stall-ehlo":
                    self._drain(conn, end)
                    return
                self._send(conn, self._ehlo(tls))
            elif verb == b"STARTTLS" and not tls:
                if self.kind == "starttls-454":
                    self._send(conn, b"454 4.7.0 TLS not available\r\n")
                    continue
                ready = b"220 2.0.0 Ready to start TLS\r\n"
                if self.kind == "inject":
                    # in one segment: the client sees both at once
                    self._send(conn, ready + b"250 injected\r\n")
                    self._drain(conn, end)
                    return
                self._send(conn, ready)
                tls_conn = self._starttls(conn, end)
                if tls_conn is not None:
                    try:
                        self._session(tls_conn, end, True)
                    finally:
                        tls_conn.close()
                return
            elif verb == b"QUIT":
                self._send(conn, b"221 2.0.0 bye\r\n")
                return
            else:
                self._send(conn, b"500 5.5.1 unknown command\r\n")

    def _handle(self, conn):
        end = self._end()
        try:
            conn.setblocking(False)
            if self.kind == "silent":
                self._drain(conn, end)
                return
            if self.kind == "garbage":
                self._send(conn, b"HTTP/1.1 400 Bad Request\r\n\r\n")
                self._drain(conn, end)
                return
            self._send(conn, self._banner())
            self._session(conn, end, False)
        except (OSError, ssl.SSLError, ValueError):
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass


# ---------------------------------------------------------------------------
# The world
# ---------------------------------------------------------------------------


class World:
    """The test world; a context manager. All paths are under `dir`."""

    def __init__(self, directory=None, profile="full", lifetime=LIFETIME_S,
                 keep=False, dns_port=None, https_port=None):
        """dns_port and https_port fix the DNS server's and the HTTPS
        servers' ports (53 and 443 for clients that cannot be told a port,
        in a private network namespace); None (the default) picks free
        ones."""
        if profile not in PROFILES:
            raise WorldError(f"unknown profile {profile}")
        self.profile = profile
        self.lifetime = lifetime
        self.keep = keep
        self.dir = directory
        self.ipv6 = ipv6_available()
        self.domains = []
        self.mx_hosts = []
        self.nsd = self.nginx = None
        self.specials = []
        self.dead_socks = []
        self.resolver_port = self.https_port = self.dead_port = None
        self.smtp_port = None
        self.rua_addr = None  # the report receiver's address (full profile)
        self.fixed_dns_port = dns_port
        self.fixed_https_port = https_port
        self.deadline = None
        self.timings = {}
        self.unavailable = []

    # ---- life cycle

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def start(self):
        t0 = time.monotonic()
        self.deadline = t0 + self.lifetime
        if self.dir is None:
            self.dir = tempfile.mkdtemp(prefix="mtasts-world-")
        else:
            os.makedirs(self.dir, exist_ok=True)
            if os.listdir(self.dir):
                raise WorldError(f"{self.dir} is not empty")
        self.dir = os.path.abspath(self.dir)
        with open(os.path.join(self.dir, MARKER), "w") as f:
            f.write("made by tests/integration/world.py\n")
        self.domains = PROFILES[self.profile](self.ipv6)
        if self.profile == "full":
            self.mx_hosts = mx_hosts(self.ipv6)
        if not self.ipv6:
            self.unavailable.append({"case": "IPv6 (::1): AAAA records, "
                                     "v6only.test", "why": "::1 unusable"})
        try:
            self._make_pki()
            self.timings["pki_s"] = round(time.monotonic() - t0, 3)
            last = None
            for _ in range(START_TRIES):
                try:
                    self._start_servers()
                    break
                except _PortTaken as e:
                    last = e
                    self._stop_servers()
            else:
                raise WorldError(f"could not start the servers: {last}")
            self.timings["start_s"] = round(time.monotonic() - t0, 3)
            self._write_description()
        except BaseException:
            self.stop()
            raise

    def stop(self):
        t0 = time.monotonic()
        self._stop_servers()
        self.timings["stop_s"] = round(time.monotonic() - t0, 3)
        if self.dir and not self.keep and os.path.exists(
                os.path.join(self.dir, MARKER)):
            shutil.rmtree(self.dir, ignore_errors=True)

    def _stop_servers(self):
        _stop_child(self.nginx)
        _stop_child(self.nsd)
        self.nginx = self.nsd = None
        for s in self.specials:
            s.stop()
        self.specials = []
        for s in self.dead_socks:
            s.close()
        self.dead_socks = []

    # ---- paths and description

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    @property
    def ca_file(self):
        return self.path("pki", "ca.pem")

    @property
    def resolver(self):
        return f"127.0.0.1@{self.resolver_port}"

    def describe(self):
        return {
            "dir": self.dir,
            "profile": self.profile,
            "pid": os.getpid(),
            "resolver": self.resolver,
            "resolver6": f"::1@{self.resolver_port}" if self.ipv6 else None,
            "dead_resolver": f"127.0.0.1@{self.dead_port}",
            "https_port": self.https_port,
            "smtp_port": self.smtp_port,
            "rua_url": self.rua_url,
            "rua_dir": self.path("rua") if self.rua_addr else None,
            "ca_file": self.ca_file,
            "other_ca_file": self.path("pki", "unknown-ca.pem"),
            "ipv6": self.ipv6,
            "expires_at": int(time.time() + self.deadline
                              - time.monotonic()),
            "timings": self.timings,
            "domains": [{
                "name": d.name, "case": d.case,
                "checklist": list(d.checklist), "expect": d.expect,
                "policy_host": d.policy_host, "server": d.host,
                "addresses": [a for a in (d.addr4, d.addr6) if a],
                "wire": d.wire,
            } for d in self.domains],
            "mx_hosts": [{
                "name": m.name, "case": m.case,
                "checklist": list(m.checklist), "expect": m.expect,
                "server": m.kind, "cert": m.cert if m.tls else None,
                "addresses": [a for a in (m.addr4, m.addr6) if a],
            } for m in self.mx_hosts],
            "unavailable": self.unavailable,
        }

    def env(self):
        """Environment variables for programs run inside the world."""
        return {
            "MTASTS_WORLD": self.path("world.json"),
            "MTASTS_WORLD_RESOLVER": self.resolver,
            "MTASTS_WORLD_DEAD_RESOLVER": f"127.0.0.1@{self.dead_port}",
            "MTASTS_WORLD_HTTPS_PORT": str(self.https_port),
            "MTASTS_WORLD_SMTP_PORT": str(self.smtp_port or 0),
            "MTASTS_WORLD_CA": self.ca_file,
            "MTASTS_WORLD_OTHER_CA": self.path("pki", "unknown-ca.pem"),
            "MTASTS_WORLD_IPV6": "1" if self.ipv6 else "0",
            "MTASTS_WORLD_RUA_URL": self.rua_url or "",
            "MTASTS_WORLD_RUA_DIR": self.path("rua") if self.rua_addr else "",
        }

    @property
    def rua_url(self):
        """The report receiver's base URL; None without one."""
        if not self.rua_addr:
            return None
        return f"https://{RUA_HOST}:{self.https_port}"

    def _write_description(self):
        with open(self.path("world.json.tmp"), "w") as f:
            json.dump(self.describe(), f, indent=2)
            f.write("\n")
        with open(self.path("world.env"), "w") as f:
            for k, v in self.env().items():
                f.write(f"{k}={shlex.quote(v)}\n")
        os.replace(self.path("world.json.tmp"), self.path("world.json"))

    # ---- certificates

    def _openssl(self, *args):
        r = subprocess.run([_find_tool("openssl"), *args],
                           cwd=self.path("pki"), capture_output=True,
                           text=True, timeout=TOOL_TIMEOUT_S, check=False)
        if r.returncode != 0:
            raise WorldError(f"openssl {' '.join(args)}: {r.stderr.strip()}")

    def _openssl_many(self, commands):
        """Run openssl commands, OPENSSL_JOBS at a time."""
        running = []
        try:
            for args in commands + [None] * OPENSSL_JOBS:
                if args is not None:
                    running.append((args, subprocess.Popen(
                        [_find_tool("openssl"), *args], cwd=self.path("pki"),
                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                        text=True)))
                while running and (len(running) >= OPENSSL_JOBS
                                   or args is None):
                    done, proc = running.pop(0)
                    _, err = proc.communicate(timeout=TOOL_TIMEOUT_S)
                    if proc.returncode != 0:
                        raise WorldError(f"openssl {' '.join(done)}: "
                                         f"{err.strip()}")
        finally:
            for _, proc in running:
                proc.kill()
                proc.wait()

    def _make_pki(self):
        """The test CA, an unknown CA and a certificate per policy host
        (all leaves share one key)."""
        pki = self.path("pki")
        os.makedirs(os.path.join(pki, "new"))
        os.makedirs(os.path.join(pki, "ext"))
        open(os.path.join(pki, "index.txt"), "w").close()
        with open(os.path.join(pki, "index.txt.attr"), "w") as f:
            f.write("unique_subject = no\n")
        with open(os.path.join(pki, "serial"), "w") as f:
            f.write("1000\n")
        with open(os.path.join(pki, "openssl.cnf"), "w") as f:
            f.write(OPENSSL_CNF.format(dir=pki))
        self._openssl_many([
            ["genpkey", "-algorithm", "EC", "-pkeyopt",
             "ec_paramgen_curve:P-256", "-out", key + ".key"]
            for key in ("ca", "unknown-ca", "leaf")])
        self._openssl_many([
            ["req", "-config", "openssl.cnf", "-new", "-x509", "-key",
             ca + ".key", "-subj", "/CN=" + cn, "-days", "7",
             "-extensions", "v3_ca", "-out", ca + ".pem"]
            for ca, cn in (("ca", "libmtasts test CA"),
                           ("unknown-ca", "libmtasts unknown CA"))] + [
            ["pkey", "-in", "leaf.key", "-pubout", "-out", "leaf.pub"]])
        dated = {"expired": ("20200101000000Z", "20200102000000Z"),
                 "notyet": ("20990101000000Z", "20991231000000Z")}
        plain, by_ca_db = [], []
        leaves = [(d.policy_host, d.cert) for d in self.domains
                  if d.host not in ("none", "closed", "silent-tcp")
                  and not (d.host == "nginx-own" and not d.tls)]
        leaves += [(m.name, m.cert) for m in self.mx_hosts if m.tls]
        if self.profile == "full":
            leaves.append((RUA_HOST, "leaf"))
        for serial, (host, cert) in enumerate(leaves, start=0x2000):
            parent = host.split(".", 1)[1]
            cn, san, ca = host, "DNS:" + host, "ca"
            if cert == "wildcard":
                cn = "*." + parent
                san = "DNS:" + cn
            elif cert == "wrongname":
                san = "DNS:www." + parent
            elif cert == "cnonly":
                san = None
            elif cert == "unknownca":
                ca = "unknown-ca"
            elif cert == "badwild":
                cn = "m*." + parent
                san = "DNS:" + cn
            ext = os.path.join("ext", host + ".cnf")
            with open(os.path.join(pki, ext), "w") as f:
                f.write("[leaf]\n" + LEAF_EXT)
                if san:
                    f.write(f"subjectAltName = {san}\n")
            if cert in dated:
                # only "openssl ca" sets both dates (OpenSSL 3.0)
                by_ca_db.append(
                    ["ca", "-batch", "-config", "openssl.cnf", "-cert",
                     ca + ".pem", "-keyfile", ca + ".key", "-ss_cert",
                     "leaf-self.pem", "-subj", "/CN=" + cn, "-startdate",
                     dated[cert][0], "-enddate", dated[cert][1],
                     "-extfile", ext, "-extensions", "leaf", "-notext",
                     "-out", host + ".pem"])
            else:
                plain.append(
                    ["x509", "-new", "-subj", "/CN=" + cn, "-force_pubkey",
                     "leaf.pub", "-CA", ca + ".pem", "-CAkey", ca + ".key",
                     "-set_serial", str(serial), "-days", "7", "-extfile",
                     ext, "-extensions", "leaf", "-out", host + ".pem"])
        if by_ca_db:
            # "openssl ca" signs a request or, as here, a self-signed
            # certificate carrying the leaf key
            self._openssl("req", "-config", "openssl.cnf", "-new", "-x509",
                          "-key", "leaf.key", "-subj", "/CN=leaf",
                          "-days", "1", "-out", "leaf-self.pem")
        self._openssl_many(plain)
        for args in by_ca_db:  # one at a time: they share the CA database
            self._openssl(*args)

    def cert_file(self, d):
        return self.path("pki", d.policy_host + ".pem")

    def mx_cert_file(self, m):
        return self.path("pki", m.name + ".pem")

    # ---- servers

    def _assign_addresses(self):
        own = iter(range(2, 251))

        def next_own():
            try:
                return f"127.0.0.{next(own)}"
            except StopIteration:
                raise WorldError("too many own addresses") from None

        for d in self.domains:
            d.addr4 = d.addr6 = None
            if d.host == "none":
                continue
            if d.host == "nginx":
                if d.host_dns != "aaaa":
                    d.addr4 = "127.0.0.1"
                if self.ipv6 and d.host_dns in ("addr", "aaaa") or \
                        d.host_dns.startswith("cname:") and self.ipv6:
                    d.addr6 = "::1"
                continue
            d.addr4 = next_own()
        for m in self.mx_hosts:
            m.addr4 = m.addr6 = None
            if m.kind == "none":
                continue
            if m.v6:
                m.addr6 = "::1"
            else:
                m.addr4 = next_own()
        self.rua_addr = next_own() if self.profile == "full" else None

    def _start_servers(self):
        t0 = time.monotonic()
        for log in ("nginx/error.log", "nginx/nginx.out", "dns/nsd.log",
                    "dns/nsd.out"):  # an earlier attempt's
            if os.path.exists(self.path(log)):
                os.remove(self.path(log))
        self._assign_addresses()
        https_addrs = ["127.0.0.1"] + (["::1"] if self.ipv6 else [])
        https_addrs += [d.addr4 for d in self.domains
                        if d.addr4 and d.addr4 != "127.0.0.1"]
        https_addrs += [self.rua_addr] if self.rua_addr else []
        self.https_port = self.fixed_https_port or pick_port(https_addrs)
        dns_addrs = ["127.0.0.1"] + (["::1"] if self.ipv6 else [])
        self.resolver_port = self.fixed_dns_port or pick_port(
            dns_addrs, (socket.SOCK_STREAM, socket.SOCK_DGRAM))
        smtp_addrs = [a for m in self.mx_hosts for a in (m.addr4, m.addr6)
                      if a]
        self.smtp_port = pick_port(smtp_addrs) if smtp_addrs else None
        self._start_dead_resolver()
        self._write_www()
        self._start_nsd()
        self._start_nginx()
        self._start_specials()
        self._wait_ready()
        self.timings["servers_s"] = round(time.monotonic() - t0, 3)

    def _start_dead_resolver(self):
        """UDP and TCP sockets on one port that never answer: a resolver
        that times out (no ICMP port unreachable, TCP connects)."""
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", 0))
        self.dead_socks.append(udp)
        self.dead_port = udp.getsockname()[1]
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.dead_socks.append(tcp)
        try:
            tcp.bind(("127.0.0.1", self.dead_port))
            tcp.listen(4)
        except OSError:
            pass  # UDP alone still times out

    def _write_www(self):
        for d in self.domains:
            root = self.path("www", d.name)
            os.makedirs(os.path.join(root, ".well-known"), exist_ok=True)
            if d.body is not None:
                with open(os.path.join(root, ".well-known", "mta-sts.txt"),
                          "wb") as f:
                    f.write(d.body)

    # nsd

    def _zone_records(self):
        recs = {z: [] for z in ZONES}

        def add(owner, rtype, value):
            zone = next(z for z in ZONES if owner.endswith("." + z))
            recs[zone].append((owner, rtype, value))

        for owner, rtype, value in EXTRA_RECORDS:
            add(owner, rtype, value)
        for d in self.domains:
            if not any((d.name + ".").endswith("." + z) for z in ZONES):
                continue  # outside every zone: REFUSED
            txt_owner = f"_mta-sts.{d.name}."
            if d.txt_cname:
                add(txt_owner, "CNAME", d.txt_cname)
            elif d.txt is not None:
                if not d.txt:
                    add(txt_owner, "A", "127.0.0.1")  # exists, no TXT
                for rr in d.txt:
                    add(txt_owner, "TXT", " ".join(_zone_quote(s)
                                                    for s in rr))
            host = d.policy_host + "."
            if d.host == "none":
                continue
            if d.host_dns.startswith("cname:"):
                target = d.host_dns[len("cname:"):]
                add(host, "CNAME", target)
                host = target
            if d.addr4:
                add(host, "A", d.addr4)
            if d.addr6:
                add(host, "AAAA", d.addr6)
        for m in self.mx_hosts:
            if m.addr4:
                add(m.name + ".", "A", m.addr4)
            if m.addr6:
                add(m.name + ".", "AAAA", m.addr6)
        if self.rua_addr:
            add(RUA_HOST + ".", "A", self.rua_addr)
        # each record once (CNAME targets and traps may repeat)
        for zone in recs:
            seen, out = set(), []
            for r in recs[zone]:
                if r not in seen:
                    seen.add(r)
                    out.append(r)
            recs[zone] = out
        return recs

    def _start_nsd(self):
        dns = self.path("dns")
        os.makedirs(dns, exist_ok=True)
        for zone, records in self._zone_records().items():
            with open(os.path.join(dns, zone + "zone"), "w") as f:
                f.write(f"$ORIGIN {zone}\n$TTL 60\n"
                        f"@ IN SOA ns.{zone} hostmaster.{zone} 1 3600 600 "
                        f"86400 60\n@ IN NS ns.{zone}\nns IN A 127.0.0.1\n")
                for owner, rtype, value in records:
                    f.write(f"{owner} IN {rtype} {value}\n")
        addrs = ["127.0.0.1"] + (["::1"] if self.ipv6 else [])
        conf = os.path.join(dns, "nsd.conf")
        with open(conf, "w") as f:
            f.write("server:\n")
            for a in addrs:
                f.write(f"  ip-address: {a}@{self.resolver_port}\n")
            f.write(NSD_CONF.format(
                dir=dns, ip6="yes" if self.ipv6 else "no",
                port=self.resolver_port,
                user='""'))
            for zone in ZONES:
                f.write(f"zone:\n  name: {zone}\n  zonefile: {zone}zone\n")
        r = subprocess.run([_find_tool("nsd-checkconf"), conf],
                           capture_output=True, text=True,
                           timeout=TOOL_TIMEOUT_S, check=False)
        if r.returncode != 0:
            raise WorldError(f"nsd-checkconf: {r.stderr.strip()}")
        self.nsd = self._spawn([_find_tool("nsd"), "-d", "-c", conf],
                               os.path.join(dns, "nsd.out"))

    # nginx

    def _nginx_conf(self):
        p = self.https_port
        main = [f"listen 127.0.0.1:{p} ssl"]
        if self.ipv6:
            main.append(f"listen [::1]:{p} ssl")
        out = [NGINX_HEAD.format(dir=self.path("nginx"))]
        for d in self.domains:
            if d.host == "nginx":
                lines = list(main)
            elif d.host == "nginx-own":
                ssl_ = " ssl" if d.tls else ""
                lines = [f"listen {d.addr4}:{p}{ssl_} default_server"]
                if d.tls:
                    lines.append(f"ssl_protocols {d.tls}")
                if "TLSv1 " in d.tls + " ":
                    # OpenSSL 3 allows TLS 1.0/1.1 only at level 0
                    lines.append("ssl_ciphers DEFAULT:@SECLEVEL=0")
            else:
                continue
            lines.append(f"server_name {d.policy_host}")
            if d.host == "nginx" or d.tls:
                lines.append(f"ssl_certificate {self.cert_file(d)}")
                lines.append("ssl_certificate_key "
                             + self.path("pki", "leaf.key"))
            lines.append("root " + self.path("www", d.name))
            extra = d.nginx
            if "default_type" not in extra:
                extra = "default_type text/plain; " + extra
            lines.append(f"location = {POLICY_PATH} {{ {extra} }}")
            lines.append("location / { return 404; }")
            out.append(_nginx_block(lines))
        if any(d.host == "nginx" for d in self.domains):
            # No or unknown SNI: refuse the handshake, so a client that
            # sends no SNI never gets a policy (RFC 8461 §7.1).
            out.append(_nginx_block(
                [x + " default_server" for x in main]
                + ["server_name _", "ssl_reject_handshake on"]))
        out.append("}\n")
        return "".join(out)

    def _start_nginx(self):
        ngx = self.path("nginx")
        for sub in ("tmp/body", "tmp/proxy", "tmp/fastcgi", "tmp/uwsgi",
                    "tmp/scgi"):
            os.makedirs(os.path.join(ngx, sub), exist_ok=True)
        conf = os.path.join(ngx, "nginx.conf")
        with open(conf, "w") as f:
            f.write(self._nginx_conf())
        self.nginx = self._spawn(
            [_find_tool("nginx"), "-p", ngx + "/", "-c", conf,
             "-e", os.path.join(ngx, "error.log")],
            os.path.join(ngx, "nginx.out"))

    def _spawn(self, argv, log):
        """A server child: output to log, SIGTERM if this process dies."""
        with open(log, "w") as out:
            return subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent(os.getpid()))

    # Python servers

    def _start_specials(self):
        for d in self.domains:
            if d.host not in ("trickle", "silent-tcp", "silent-tls", "raw"):
                continue
            ctx = None
            if d.host != "silent-tcp":
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.load_cert_chain(self.cert_file(d),
                                    self.path("pki", "leaf.key"))
            try:
                s = SpecialServer(d.host, d.addr4, self.https_port, ctx,
                                  d.payload, self.deadline)
            except OSError as e:
                raise _PortTaken(f"{d.addr4}:{self.https_port}: {e}") from e
            self.specials.append(s)
            s.start()
        for m in self.mx_hosts:
            if m.kind in ("none", "closed"):
                continue
            addr = m.addr6 or m.addr4
            try:
                s = SmtpServer(m, addr, self.smtp_port, self._mx_tls(m),
                               self.deadline)
            except OSError as e:
                raise _PortTaken(f"{addr}:{self.smtp_port}: {e}") from e
            self.specials.append(s)
            s.start()
        if self.rua_addr:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(self.path("pki", RUA_HOST + ".pem"),
                                self.path("pki", "leaf.key"))
            os.makedirs(self.path("rua"), exist_ok=True)
            try:
                s = ReportReceiver(self.rua_addr, self.https_port, ctx,
                                   self.deadline, self.path("rua"))
            except OSError as e:
                raise _PortTaken(f"{self.rua_addr}:{self.https_port}: "
                                 f"{e}") from e
            self.specials.append(s)
            s.start()

    def _mx_tls(self, m):
        """The MX's certificate for SNI m.name; without it (or with another
        name) a self-signed certificate for CN=leaf."""
        if not m.tls:
            return None
        own = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        own.load_cert_chain(self.mx_cert_file(m),
                            self.path("pki", "leaf.key"))
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.path("pki", "leaf-self.pem"),
                            self.path("pki", "leaf.key"))

        def pick(sslobj, server_name, _ctx):
            if server_name == m.name:
                sslobj.context = own
            return None

        ctx.sni_callback = pick
        return ctx

    def _wait_ready(self):
        """Poll until nsd answers for every zone and nginx accepts on
        every address; a dead child or too many tries is an error."""
        zones = list(ZONES)
        tcp = []
        for d in self.domains:
            if d.host in ("nginx", "nginx-own"):
                for a in (d.addr4, d.addr6):
                    if a and (a, self.https_port) not in tcp:
                        tcp.append((a, self.https_port))
        for _ in range(READY_TRIES):
            for proc, name, log in ((self.nsd, "nsd", "dns/nsd.log"),
                                    (self.nginx, "nginx",
                                     "nginx/error.log")):
                if proc is not None and proc.poll() is not None:
                    text = _tail(self.path(log)) + _tail(
                        self.path(os.path.dirname(log), name + ".out"))
                    if "Address already in use" in text or \
                            "already in use" in text:
                        raise _PortTaken(f"{name}: {text}")
                    raise WorldError(f"{name} exited ({proc.returncode}):"
                                     f"\n{text}")
            while zones:
                try:
                    rcode, recs = dns_query("127.0.0.1", self.resolver_port,
                                            zones[0], "SOA", timeout=0.2)
                except (OSError, TimeoutError):
                    break
                if rcode != "NOERROR" or not recs:
                    break
                zones.pop(0)
            while tcp and not zones:
                a, port = tcp[0]
                fam = socket.AF_INET6 if ":" in a else socket.AF_INET
                with socket.socket(fam, socket.SOCK_STREAM) as s:
                    s.settimeout(0.2)
                    if s.connect_ex((a, port)) != 0:
                        break
                tcp.pop(0)
            if "bind() to" in _tail(self.path("nginx", "error.log")):
                # nginx retries a taken port for a while: do not wait, and
                # do not mistake whoever holds the port for nginx
                raise _PortTaken("nginx: " + _tail(
                    self.path("nginx", "error.log"), 300))
            if not zones and not tcp:
                return
            time.sleep(READY_POLL_S)
        raise WorldError(f"servers not ready: zones {zones}, tcp {tcp}")

    # ---- wire-level self check

    def check(self, out=sys.stdout):
        """Check every domain at the DNS and HTTPS level with plain
        clients (not libmtasts); returns the number of problems."""
        problems = 0
        for d in self.domains:
            errs = _check_domain(self, d)
            problems += bool(errs)
            status = "ok  " if not errs else "FAIL"
            print(f"{status} {d.name:22} {d.wire:18} "
                  + "; ".join(errs), file=out)
        passed = len(self.domains) - problems
        print(f"{passed} passed, {problems} failed", file=out)
        return problems


class _PortTaken(WorldError):
    pass


def _tail(path, n=2000):
    try:
        with open(path, errors="replace") as f:
            return f.read()[-n:]
    except OSError:
        return ""


def _zone_quote(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


OPENSSL_CNF = """\
[ca]
default_ca = ca_default
[ca_default]
dir = {dir}
database = {dir}/index.txt
new_certs_dir = {dir}/new
serial = {dir}/serial
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none
email_in_dn = no
[policy_any]
commonName = supplied
[req]
distinguished_name = req_dn
[req_dn]
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
"""

LEAF_EXT = """\
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""

NSD_CONF = """\
  port: {port}
  do-ip4: yes
  do-ip6: {ip6}
  username: {user}
  chroot: ""
  database: ""
  zonesdir: "{dir}"
  zonelistfile: "{dir}/zone.list"
  xfrdfile: "{dir}/xfrd.state"
  xfrdir: "{dir}"
  pidfile: "{dir}/nsd.pid"
  logfile: "{dir}/nsd.log"
  server-count: 1
  tcp-count: 64
  verbosity: 1
  hide-version: yes
  reuseport: no
  rrl-ratelimit: 0
  rrl-whitelist-ratelimit: 0
remote-control:
  control-enable: no
"""

NGINX_HEAD = """\
daemon off;
master_process off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/tmp/body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;
    types {{ }}
    default_type application/octet-stream;
    server_tokens off;
    gzip off;
    keepalive_timeout 10s;
    ssl_protocols TLSv1.2 TLSv1.3;
"""


def _nginx_block(lines):
    """A server block; each line is one directive (";" added unless it
    ends in a block)."""
    body = "".join("        " + x + ("" if x.endswith("}") else ";") + "\n"
                   for x in lines)
    return "    server {\n" + body + "    }\n"


# ---------------------------------------------------------------------------
# Wire-level checks (plain Python clients)
# ---------------------------------------------------------------------------


class _Response:
    def __init__(self, raw):
        head, sep, body = raw.partition(b"\r\n\r\n")
        if not sep or not head.startswith(b"HTTP/"):
            raise ValueError("not an HTTP response")
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            self.headers[k.strip().lower()] = v.strip()
        self.chunked = self.headers.get("transfer-encoding", "").lower() \
            == "chunked"
        self.body = _dechunk(body) if self.chunked else body
        if "content-length" in self.headers:
            n = int(self.headers["content-length"])
            if n != len(self.body):
                raise ValueError(f"body {len(self.body)} bytes, "
                                 f"Content-Length {n}")


def _dechunk(data):
    out, i = b"", 0
    while True:
        eol = data.index(b"\r\n", i)
        size = int(data[i:eol].split(b";")[0], 16)
        i = eol + 2
        if size == 0:
            return out
        out += data[i:i + size]
        i += size + 2


def _tls_client(verify=True, legacy=False, tls13_only=False):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if verify:
        ctx.hostname_checks_common_name = False  # DNS-IDs only
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if legacy:
        with warnings.catch_warnings():  # deprecated: that is the point
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = ssl.TLSVersion.TLSv1
            ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    if tls13_only:
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    return ctx


def https_get(addr, port, host, ca_file, timeout=2.0, tls_ctx=None,
              plain=False, max_bytes=200000):
    """GET POLICY_PATH; returns the raw response bytes (until close)."""
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    deadline = time.monotonic() + timeout
    sock = socket.socket(fam, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect((addr, port))
        if not plain:
            ctx = tls_ctx or _tls_client()
            if ctx.verify_mode != ssl.CERT_NONE:
                ctx.load_verify_locations(ca_file)
            sock = ctx.wrap_socket(sock, server_hostname=host)
        sock.sendall(f"GET {POLICY_PATH} HTTP/1.1\r\nHost: {host}\r\n"
                     "Connection: close\r\n\r\n".encode())
        data = b""
        while len(data) < max_bytes:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("response not complete in time")
            sock.settimeout(left)
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        return data
    finally:
        sock.close()


def _check_dns(w, d):
    errs = []
    port = w.resolver_port
    rcode, txts, chain = dns_resolve("127.0.0.1", port,
                                     "_mta-sts." + d.name, "TXT")
    if d.name.endswith(".invalid"):
        if rcode != "REFUSED":
            errs.append(f"TXT: {rcode}, want REFUSED")
        return errs
    if d.txt_cname:
        target = d.txt_cname.rstrip(".")
        if d.name == "loop.test":
            if rcode != "LOOP":
                errs.append(f"TXT: {rcode}, want a CNAME loop")
        elif "nowhere" in target:
            if rcode != "NXDOMAIN":
                errs.append(f"TXT: {rcode}, want NXDOMAIN via CNAME")
        else:
            want = [[b"v=STSv1; id=provider1"]]
            if txts != want or len(chain) < 2:
                errs.append(f"TXT via {chain}: {txts}")
    elif d.txt is None:
        if rcode != "NXDOMAIN":
            errs.append(f"TXT: {rcode}, want NXDOMAIN")
    else:
        want = sorted([s.encode() for s in rr] for rr in d.txt)
        if rcode != "NOERROR" or sorted(txts) != want:
            errs.append(f"TXT: {rcode} {txts}, want {want}")
    want4 = [d.addr4] if d.addr4 else []
    want6 = [d.addr6] if d.addr6 else []
    for qtype, want in (("A", want4), ("AAAA", want6)):
        rcode, addrs, chain = dns_resolve("127.0.0.1", port, d.policy_host,
                                          qtype)
        if sorted(addrs) != want:
            errs.append(f"{qtype} {d.policy_host}: {rcode} {addrs}, "
                        f"want {want}")
        if d.host_dns.startswith("cname:") and len(chain) < 2:
            errs.append(f"{d.policy_host} is not a CNAME")
    return errs


def _check_domain(w, d):
    errs = _check_dns(w, d)
    if d.wire == "-":
        return errs
    addr, port, host, ca = (d.addr4 or d.addr6), w.https_port, \
        d.policy_host, w.ca_file

    def get(**kw):
        return https_get(addr, port, host, ca, **kw)

    try:
        if d.wire == "no-address":
            if addr is not None:
                errs.append(f"has an address {addr}")
        elif d.wire == "refused":
            try:
                get(timeout=1.0)
                errs.append("connected")
            except ConnectionRefusedError:
                pass
        elif d.wire == "timeout":
            t0 = time.monotonic()
            try:
                get(timeout=1.0)
                errs.append("answered")
            except (TimeoutError, socket.timeout):
                if time.monotonic() - t0 < 0.9:
                    errs.append("timed out too early")
        elif d.wire.startswith("cert "):
            want = {"expired": 10, "notyet": 9, "wrongname": 62,
                    "cnonly": 62, "unknownca": 20, "badwild": 62}[d.cert]
            try:
                get()
                errs.append("certificate accepted")
            except ssl.SSLCertVerificationError as e:
                if e.verify_code != want:
                    errs.append(f"verify code {e.verify_code} "
                                f"({e.verify_message}), want {want}")
            # without verification the policy is there
            r = _Response(get(tls_ctx=_tls_client(verify=False)))
            if r.status != 200 or r.body != d.body:
                errs.append(f"unverified GET: {r.status}")
        elif d.wire == "tls-old":
            try:
                get()
                errs.append("TLS >= 1.2 handshake succeeded")
            except ssl.SSLError:
                pass
            r = _Response(get(tls_ctx=_tls_client(legacy=True)))
            if r.status != 200 or r.body != d.body:
                errs.append(f"TLS 1.0/1.1 GET: {r.status}")
        elif d.wire == "tls13-only":
            ctx12 = _tls_client()
            ctx12.maximum_version = ssl.TLSVersion.TLSv1_2
            try:
                get(tls_ctx=ctx12)
                errs.append("TLS 1.2 handshake succeeded")
            except ssl.SSLError:
                pass
            r = _Response(get(tls_ctx=_tls_client(tls13_only=True)))
            if r.status != 200 or r.body != d.body:
                errs.append(f"TLS 1.3 GET: {r.status}")
        elif d.wire == "plaintext":
            try:
                get()
                errs.append("TLS handshake succeeded")
            except (ssl.SSLError, ConnectionResetError):
                pass
            r = _Response(get(plain=True))
            if r.status != 200 or r.body != d.body:
                errs.append(f"plain GET: {r.status}")
        elif d.wire == "malformed":
            raw = get()
            try:
                _Response(raw)
                errs.append("a well-formed response")
            except (ValueError, IndexError):
                pass
        elif d.wire == "truncated":
            raw = get()
            try:
                _Response(raw)
                errs.append("a complete response")
            except ValueError as e:
                if "Content-Length" not in str(e):
                    errs.append(str(e))
        else:
            r = _Response(get())
            errs += _check_response(d, r)
    except Exception as e:  # report, never hide
        errs.append(f"{type(e).__name__}: {e}")
    return errs


def _check_response(d, r):
    errs = []
    kind, _, arg = d.wire.partition(" ")
    ctype = r.headers.get("content-type")
    if kind in ("policy", "policy-chunked"):
        if r.status != 200:
            errs.append(f"status {r.status}")
        if ctype is None or not ctype.lower().startswith("text/plain"):
            errs.append(f"Content-Type {ctype}")
        if r.body != d.body:
            errs.append(f"body {len(r.body)} bytes, want {len(d.body)}")
        if (kind == "policy-chunked") != r.chunked:
            errs.append("chunked" if r.chunked else "not chunked")
        if kind == "policy" and "content-length" not in r.headers:
            errs.append("no Content-Length")
    elif kind == "status":
        if r.status != int(arg):
            errs.append(f"status {r.status}, want {arg}")
    elif kind == "ctype":
        if r.status != 200 or r.body != d.body:
            errs.append(f"status {r.status}")
        want = None if arg == "none" else arg
        if ctype != want:
            errs.append(f"Content-Type {ctype}, want {want}")
    else:
        errs.append(f"unknown wire check {d.wire}")
    return errs


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def _up(args):
    stop = threading.Event()

    def on_signal(signum, frame):
        del signum, frame
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    if args.die_with_parent:
        _die_with_parent(os.getppid())()
    w = World(args.dir, profile=args.profile, lifetime=args.lifetime,
              keep=args.keep)
    try:
        w.start()
        with open(w.path("world.pid"), "w") as f:
            f.write(f"{os.getpid()}\n")
        json.dump(w.describe(), sys.stdout, indent=2)
        sys.stdout.write("\n")
        sys.stdout.flush()
        while not stop.is_set() and time.monotonic() < w.deadline:
            stop.wait(0.1)
            for proc, name in ((w.nsd, "nsd"), (w.nginx, "nginx")):
                if proc.poll() is not None:
                    print(f"world: {name} exited ({proc.returncode})",
                          file=sys.stderr)
                    stop.set()
    finally:
        w.stop()
    return 0


def _down(args):
    d = os.path.abspath(args.dir)
    if not os.path.exists(os.path.join(d, MARKER)):
        if not os.path.exists(d):
            return 0  # already gone
        print(f"{d} is not a world directory", file=sys.stderr)
        return 1
    try:
        with open(os.path.join(d, "world.pid")) as f:
            pid = int(f.read().strip())
    except (OSError, ValueError):
        pid = 0
    if pid:
        _kill_pid(pid, wait_s=args.timeout, expect="python")
    # the servers, if the world process was killed outright
    for pidfile, name in (("nginx/nginx.pid", "nginx"),
                          ("dns/nsd.pid", "nsd")):
        try:
            with open(os.path.join(d, pidfile)) as f:
                _kill_pid(int(f.read().strip()), expect=name)
        except (OSError, ValueError):
            pass
    if os.path.exists(os.path.join(d, MARKER)):
        shutil.rmtree(d, ignore_errors=True)
    return 0


def _check(args):
    with open(os.path.join(args.dir, "world.json")) as f:
        desc = json.load(f)
    w = World(desc["dir"], profile=desc["profile"])
    w.domains = PROFILES[w.profile](desc["ipv6"])
    w.ipv6 = desc["ipv6"]
    w.resolver_port = int(desc["resolver"].split("@")[1])
    w.https_port = desc["https_port"]
    by_name = {x["name"]: x for x in desc["domains"]}
    for dom in w.domains:
        addrs = by_name[dom.name]["addresses"]
        dom.addr4 = next((a for a in addrs if ":" not in a), None)
        dom.addr6 = next((a for a in addrs if ":" in a), None)
    return 1 if w.check() else 0


def _selftest(args):
    with World(profile=args.profile, lifetime=args.lifetime) as w:
        print(f"world up in {w.timings['start_s']} s "
              f"(certificates {w.timings['pki_s']} s), "
              f"resolver {w.resolver}, https port {w.https_port}, "
              f"ipv6 {w.ipv6}")
        t0 = time.monotonic()
        problems = w.check()
        print(f"checked in {time.monotonic() - t0:.2f} s")
    print(f"world down in {w.timings['stop_s']} s")
    return 1 if problems else 0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="start a world in DIR, run until killed")
    up.add_argument("dir")
    up.add_argument("--profile", choices=sorted(PROFILES), default="full")
    up.add_argument("--lifetime", type=float, default=LIFETIME_S,
                    help=f"stop after this many seconds ({LIFETIME_S})")
    up.add_argument("--keep", action="store_true",
                    help="keep DIR after stopping")
    up.add_argument("--die-with-parent", action="store_true",
                    help="stop when the parent process ends")
    down = sub.add_parser("down", help="stop the world running in DIR")
    down.add_argument("dir")
    down.add_argument("--timeout", type=float, default=10.0)
    chk = sub.add_parser("check", help="check a running world (wire level)")
    chk.add_argument("dir")
    st = sub.add_parser("selftest", help="start, check and stop a world")
    st.add_argument("--profile", choices=sorted(PROFILES), default="full")
    st.add_argument("--lifetime", type=float, default=120.0)
    args = p.parse_args(argv)
    try:
        return {"up": _up, "down": _down, "check": _check,
                "selftest": _selftest}[args.cmd](args)
    except WorldError as e:
        print(f"world: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
