#!/usr/bin/env python3
"""mtasts-socketmap over TCP against the loopback world (run by run.py).

Usage: run.py socketmap.py PATH-TO-mtasts-socketmap

The real daemon is started on 127.0.0.1 (port 0, the port read from its
"listening on" line) with the world's resolver, CA and HTTPS port, and
driven at the wire (Postfix socketmap_table(5) netstrings): every answer
type (enforce, testing, none, no TXT record), every key form Postfix and
sendmail send, pipelining, netstrings split across writes, oversize and
garbage netstrings (connection closed), a client leaving mid-request, the
answer deadline with a policy host that hangs (hang.test) and a dead
resolver, the background fetch that finishes after the deadline, zones
from --config, a Unix socket, SIGHUP/SIGTERM saving the cache that a
restarted daemon answers from with DNS dead, the periodic save and
proactive refresh, systemd notify, --reuse-port, --socket-mode,
--socket-owner and --socket-group, admin requests (dump, purge; the refusal of
a non-loopback peer is a unit test: tests never leave loopback), stderr logging on a full pipe (dropped lines
counted), and, last, faults under lock-step load: the world's DNS server
(nsd, its pid from the world's dns/nsd.pid) and then its HTTPS server
(nginx/nginx.pid) stopped while cached answers must flow unchanged.
Standard library only.
"""
import fcntl
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
from checks import Checks  # noqa: E402

DAEMON = sys.argv[1]
ENV = os.environ
check = Checks()
LOGS = []  # every daemon's stderr file, checked for sanitizer reports

VALID = ("OK secure match=mail.valid.test:.backup.valid.test "
         "servername=hostname")
NOTFOUND = "NOTFOUND "
TLSRPT_VALID = (" policy_type=sts policy_domain=valid.test"
                " mx_host_pattern=mail.valid.test"
                " mx_host_pattern=*.backup.valid.test"
                " { policy_string = version: STSv1 }"
                " { policy_string = mode: enforce }"
                " { policy_string = mx: mail.valid.test }"
                " { policy_string = mx: *.backup.valid.test }"
                " { policy_string = max_age: 86400 }")
IO_TIMEOUT_S = 20


class Daemon:
    """One mtasts-socketmap process; stop() sends SIGTERM and waits."""

    def __init__(self, workdir, *args, resolver=None, listen="127.0.0.1:0",
                 env=None):
        self.log = os.path.join(workdir, f"daemon-{time.monotonic_ns()}.log")
        LOGS.append(self.log)
        argv = [DAEMON, "--listen", listen,
                "--resolver", resolver or ENV["MTASTS_WORLD_RESOLVER"],
                "--ca-file", ENV["MTASTS_WORLD_CA"],
                "--https-port", ENV["MTASTS_WORLD_HTTPS_PORT"],
                "--fetch-timeout-ms", "8000", *args]
        with open(self.log, "w") as f:
            self.proc = subprocess.Popen(argv, stderr=f, env=env)
        self.port = None
        end = time.monotonic() + 10
        while time.monotonic() < end and self.proc.poll() is None:
            for line in self.stderr().splitlines():
                if "listening on " in line:
                    self.where = line.split("listening on ", 1)[1]
                    if not self.where.startswith("unix:"):
                        self.port = int(self.where.rsplit(":", 1)[1])
                    return
            time.sleep(0.02)
        raise RuntimeError("daemon did not start: " + self.stderr())

    def stderr(self):
        with open(self.log) as f:
            return f.read()

    def connect(self):
        s = socket.create_connection(("127.0.0.1", self.port),
                                     timeout=IO_TIMEOUT_S)
        return Conn(s)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None


def netstring(payload):
    if isinstance(payload, str):
        payload = payload.encode()
    return str(len(payload)).encode() + b":" + payload + b","


class Conn:
    def __init__(self, sock):
        self.s = sock
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def ask(self, key, name="postfix"):
        self.send(netstring(name + " " + key if isinstance(key, str)
                            else name.encode() + b" " + key))
        return self.answer()

    def answer(self):
        """The next answer netstring's payload; None if the daemon closed
        the connection first."""
        while True:
            colon = self.buf.find(b":")
            if colon > 0:
                n = int(self.buf[:colon])
                if len(self.buf) >= colon + n + 2:
                    payload = self.buf[colon + 1:colon + 1 + n]
                    assert self.buf[colon + 1 + n:colon + 2 + n] == b","
                    self.buf = self.buf[colon + 2 + n:]
                    return payload.decode()
            data = self.s.recv(65536)
            if not data:
                return None
            self.buf += data

    def closed_by_peer(self):
        """True when the daemon closed the connection (EOF or reset)."""
        try:
            self.s.settimeout(IO_TIMEOUT_S)
            return self.s.recv(1) == b""
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False

    def close(self):
        self.s.close()


def answer_types(d):
    c = d.connect()
    check("enforce policy: OK secure match=..., wildcard as .domain, "
          "policy order, servername (R8461-4.1-a)",
          c.ask("valid.test") == VALID)
    got = c.ask("wild.test")
    check("a second enforce domain", got ==
          "OK secure match=mail.wild.test servername=hostname", got)
    for domain, why in (("testing.test", "mode testing"),
                        ("none.test", "mode none"),
                        ("nxdomain.test", "no _mta-sts name"),
                        ("notxt.test", "no STS TXT record"),
                        ("nodata.test", "no TXT (NODATA)"),
                        ("badpolicy.test", "invalid policy"),
                        ("notfound.test", "fetch fails (404)"),
                        ("expired.test", "WebPKI fails")):
        got = c.ask(domain)
        check(f"{domain} ({why}): 'NOTFOUND ' with its space", got ==
              NOTFOUND, got)
    got = c.ask("valid.test")
    check("persistent connection: a later request on it answers", got ==
          VALID, got)
    c.close()


def key_forms(d):
    c = d.connect()
    for key in ("VALID.TEST", "valid.test.", "[valid.test]",
                "[valid.test]:25", "valid.test:25", "[Valid.Test.]:587",
                "valid.test:smtp", "[valid.test]:submission"):
        got = c.ask(key)
        check(f"key {key!r}: the policy of valid.test", got == VALID, got)
    for key in (".valid.test", "[192.0.2.1]", "192.0.2.1", "[192.0.2.1]:25",
                "[IPv6:2001:db8::1]", "2001:db8::1", "valid.test:-smtp",
                "[valid.test"):
        got = c.ask(key)
        check(f"key {key!r}: NOTFOUND", got == NOTFOUND, got)
    got = c.ask("b\u00fccher.test".encode())
    check("UTF-8 key: NOTFOUND, not a dropped connection", got == NOTFOUND,
          got)
    got = c.ask(b"\xff\xfe.test")
    check("invalid UTF-8 key: NOTFOUND", got == NOTFOUND, got)
    got = c.ask("valid.test")
    check("the connection stays usable after those keys", got == VALID, got)
    got = c.ask("valid.test", name="unknown-zone")
    check("an unknown NAME uses the default zone", got == VALID, got)
    c.send(netstring("postfix"))
    got = c.answer()
    check("a request without KEY: a PERM answer, connection kept",
          got is not None and got.startswith("PERM ") and
          c.ask("valid.test") == VALID, got)
    got = c.ask("")
    check("an empty KEY ('postfix '): NOTFOUND, as the Python daemon",
          got == NOTFOUND, got)
    c.close()


def pipelining(d):
    c = d.connect()
    keys = ["valid.test", "none.test", "[valid.test]:25", "nxdomain.test",
            "testing.test", "wild.test"]
    expect = [VALID, NOTFOUND, VALID, NOTFOUND, NOTFOUND,
              "OK secure match=mail.wild.test servername=hostname"]
    c.send(b"".join(netstring("postfix " + k) for k in keys))
    got = [c.answer() for _ in keys]
    check("six pipelined requests in one write: six answers in order",
          got == expect, got)
    # A request for a new domain (a lookup) first, cached ones behind it:
    # the answers still come in request order.
    c.send(netstring("postfix chain.test") + netstring("postfix valid.test"))
    got = [c.answer(), c.answer()]
    check("pipelined behind a lookup: answers in request order",
          got == ["OK secure match=mail.chain.test servername=hostname",
                  VALID], got)
    # 200 requests in one write, more than the daemon takes at once.
    c.send(netstring("postfix valid.test") * 200)
    got = [c.answer() for _ in range(200)]
    check("200 pipelined requests: 200 answers",
          got == [VALID] * 200, set(got))
    c.close()


def partial(d):
    c = d.connect()
    req = netstring("postfix valid.test")
    for b in req:
        c.send(bytes([b]))
        time.sleep(0.002)
    got = c.answer()
    check("a request written one byte at a time", got == VALID, got)
    # The end of one request and the start of the next in one write.
    two = netstring("postfix valid.test") + netstring("postfix none.test")
    c.send(two[:7])
    time.sleep(0.05)
    c.send(two[7:30])
    time.sleep(0.05)
    c.send(two[30:])
    got = [c.answer(), c.answer()]
    check("two requests cut across three writes", got == [VALID, NOTFOUND],
          got)
    c.close()


def bad_input(d):
    cases = [
        ("oversize length (10001) closes the connection",
         b"10001:postfix "),
        ("oversize length, huge number", b"99999999999999:"),
        ("garbage instead of a netstring", b"GET / HTTP/1.0\r\n\r\n"),
        ("a netstring without its comma", b"18:postfix valid.test;"),
        ("a leading zero in the length", b"018:postfix valid.test,"),
    ]
    for name, data in cases:
        c = d.connect()
        c.send(data)
        check(name, c.closed_by_peer())
        c.close()
    c = d.connect()
    # Exactly 10,000 bytes is accepted (its key is no domain: NOTFOUND).
    got = c.ask("x" * (10000 - len("postfix ")))
    check("a 10,000-byte request is answered", got == NOTFOUND, got)
    check("the daemon still answers after bad clients",
          c.ask("valid.test") == VALID)
    c.close()


def disconnects(d):
    # A client leaving mid-request, mid-netstring and while its lookup
    # runs (a domain not looked up yet): the daemon goes on.
    c = d.connect()
    c.send(b"18:postfix val")
    c.close()
    c = d.connect()
    c.send(netstring("postfix txtmixed.test"))
    c.close()
    c = d.connect()
    c.send(netstring("postfix valid.test") * 50)
    c.s.shutdown(socket.SHUT_WR)
    c.close()
    time.sleep(0.3)
    c = d.connect()
    got = c.ask("txtmixed.test")
    check("after clients left mid-request the daemon answers, and the "
          "lookup a leaver started completed",
          got == "OK secure match=mail.txtmixed.test servername=hostname",
          got)
    check("the daemon is still running", d.proc.poll() is None)
    c.close()


def deadline(workdir):
    d = Daemon(workdir, "--deadline-ms", "1500")
    hang = d.connect()
    other = d.connect()
    other.ask("valid.test")  # cached now
    t0 = time.monotonic()
    hang.send(netstring("postfix hang.test"))
    # While hang.test's lookup waits on a silent policy host, another
    # connection's cached answer does not wait behind it.
    got = other.ask("valid.test")
    hang_answered_first = len(hang.buf) > 0
    check("a cached answer on another connection while a fetch hangs",
          got == VALID and not hang_answered_first, got)
    got = hang.answer()
    elapsed = time.monotonic() - t0
    # The fetch timeout is 8 s: an answer well before it is the deadline's.
    check("hang.test: NOTFOUND at the deadline, before the fetch timeout",
          got == NOTFOUND and elapsed < 6.0, f"{got!r} after {elapsed:.2f} s")
    got = hang.ask("hang.test")
    check("hang.test again while its fetch still runs: NOTFOUND at once",
          got == NOTFOUND, got)
    # Pipelined: a hanging lookup ahead of a cached domain.
    hang.send(netstring("postfix hangtls.test") +
              netstring("postfix valid.test"))
    got = [hang.answer(), hang.answer()]
    check("a pipelined request behind a hanging lookup keeps its order",
          got == [NOTFOUND, VALID], got)
    hang.close()
    other.close()
    rc = d.stop()
    check("SIGTERM with a lookup still hanging: exit 0", rc == 0,
          f"{rc} {d.stderr()}")

    # Deadline 1 ms: a cold lookup (DNS, TLS, HTTP) cannot make it, the
    # first answer is NOTFOUND, and the fetch goes on in the background
    # so that a later request has the policy (R8461-3.3-m: no wait).
    d = Daemon(workdir, "--deadline-ms", "1")
    c = d.connect()
    first = c.ask("split.test")
    later = None
    end = time.monotonic() + 10
    while time.monotonic() < end:
        later = c.ask("split.test")
        if later != NOTFOUND:
            break
        time.sleep(0.05)
    check("deadline passed: NOTFOUND, then the background fetch's policy",
          first == NOTFOUND and later ==
          "OK secure match=mail.split.test servername=hostname",
          f"{first!r} then {later!r}")
    c.close()
    d.stop()

    # A resolver that never answers: NOTFOUND by the deadline.
    d = Daemon(workdir, "--deadline-ms", "300",
               resolver=ENV["MTASTS_WORLD_DEAD_RESOLVER"])
    c = d.connect()
    t0 = time.monotonic()
    got = c.ask("valid.test")
    elapsed = time.monotonic() - t0
    check("dead resolver: NOTFOUND by the deadline", got == NOTFOUND and
          elapsed < 3.0, f"{got!r} after {elapsed:.2f} s")
    c.close()
    d.stop()


def zones_and_unix(workdir):
    conf = os.path.join(workdir, "socketmap.conf")
    with open(conf, "w") as f:
        f.write("# zones\ndeadline-ms = 3000\n"
                "[zone strict]\nstrict-testing = yes\n"
                "[zone old]\nservername = no\n"
                "[zone report]\npostfix-tlsrpt = yes\n"
                "[zone cautious]\ntemp-on-failure = yes\n")
    path = os.path.join(workdir, "sm.sock")
    d = Daemon(workdir, "--config", conf, listen="unix:" + path)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(IO_TIMEOUT_S)
    s.connect(path)
    c = Conn(s)
    check("unix socket: answers", c.ask("valid.test") == VALID)
    got = c.ask("testing.test", name="strict")
    check("zone with strict-testing: mode testing is enforced",
          got == "OK secure match=mail.testing.test servername=hostname",
          got)
    got = c.ask("testing.test")
    check("default zone: mode testing stays NOTFOUND", got == NOTFOUND, got)
    got = c.ask("valid.test", name="old")
    check("zone with servername = no", got ==
          "OK secure match=mail.valid.test:.backup.valid.test", got)
    got = c.ask("valid.test", name="report")
    check("zone with postfix-tlsrpt = yes: Postfix 3.10 TLSRPT attributes",
          got == VALID + TLSRPT_VALID, got)
    got = c.ask("none.test", name="report")
    check("zone with postfix-tlsrpt: mode none stays NOTFOUND",
          got == NOTFOUND, got)
    got = [c.ask(k, name="cautious") for k in
           ("notfound.test", "expired.test", "nxdomain.test", "valid.test")]
    check("zone with temp-on-failure: TEMP for failed discovery, NOTFOUND "
          "without a policy, OK for a policy",
          got == ["TEMP MTA-STS policy discovery failed: MTASTS_ERR_FETCH",
                  "TEMP MTA-STS policy discovery failed: MTASTS_ERR_WEBPKI",
                  NOTFOUND, VALID], got)
    got = c.ask("notfound.test")
    check("the default zone still fails open (NOTFOUND)", got == NOTFOUND,
          got)
    c.close()
    rc = d.stop()
    check("unix socket removed at exit", rc == 0 and
          not os.path.exists(path), rc)

    bad = os.path.join(workdir, "bad.conf")
    with open(bad, "w") as f:
        f.write("workers = 2\nbogus = 1\n")
    p = subprocess.run([DAEMON, "--config", bad], capture_output=True,
                       timeout=30, check=False)
    check("a bad config file: exit 64 and the line", p.returncode == 64 and
          b"line 2: unknown option 'bogus'" in p.stderr, p.stderr)
    p = subprocess.run([DAEMON, "--help"], capture_output=True, timeout=30,
                       check=False)
    check("--help", p.returncode == 0 and b"--listen" in p.stdout)


def cache_file(workdir):
    cache = os.path.join(workdir, "policies.cache")
    d = Daemon(workdir, "--cache", cache)
    c = d.connect()
    c.ask("valid.test")
    c.ask("deleg.test")
    d.proc.send_signal(signal.SIGHUP)
    end = time.monotonic() + 10
    while time.monotonic() < end and not os.path.exists(cache):
        time.sleep(0.05)
    check("SIGHUP saves the cache", os.path.exists(cache))
    c.close()
    rc = d.stop()
    check("SIGTERM: exit 0, cache saved", rc == 0 and os.path.exists(cache)
          and "stopped" in d.stderr(), f"{rc} {d.stderr()}")
    # Restarted with DNS dead: the saved policies answer at once.
    d = Daemon(workdir, "--cache", cache, "--deadline-ms", "300",
               resolver=ENV["MTASTS_WORLD_DEAD_RESOLVER"])
    c = d.connect()
    got = [c.ask("valid.test"), c.ask("deleg.test"), c.ask("none.test")]
    check("restarted with DNS dead: cached policies from the file "
          "(R8461-3.3-m)", got == [VALID,
          "OK secure match=mail.deleg.test servername=hostname", NOTFOUND],
          got)
    c.close()
    d.stop()

    # --postfix-tlsrpt with the policy host unreachable: the refresh in
    # the window fetches, fails, and the cached policy still applies with
    # policy_failure (RFC 8460 sts-policy-fetch-error).
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    d = Daemon(workdir, "--cache", cache, "--postfix-tlsrpt",
               "--https-port", str(dead_port), "--refresh-interval-s", "1",
               "--refresh-expiring-s", "86400", "--fetch-timeout-ms", "2000")
    c = d.connect()
    got = c.ask("valid.test")
    check("--postfix-tlsrpt: the TLSRPT attributes after the answer",
          got.startswith(VALID + TLSRPT_VALID), got)
    end = time.monotonic() + 15
    while time.monotonic() < end and "policy_failure=" not in got:
        time.sleep(0.2)
        got = c.ask("valid.test")
    check("a failed refresh while the cached policy applies: "
          "policy_failure=sts-policy-fetch-error",
          got == VALID + TLSRPT_VALID +
          " policy_failure=sts-policy-fetch-error", got)
    c.close()
    d.stop()


def periodic(workdir):
    # Every second: the cache file saved without a signal, and valid.test
    # (max_age 86400, within a refresh window of 86400 s) refreshed
    # through mtasts_refresh() (RFC 8461 §3.3 proactive refresh).
    cache = os.path.join(workdir, "periodic.cache")
    d = Daemon(workdir, "--cache", cache, "--refresh-interval-s", "1",
               "--refresh-expiring-s", "86400")
    c = d.connect()
    first = c.ask("valid.test")
    end = time.monotonic() + 10
    while time.monotonic() < end and not (
            os.path.exists(cache) and "refreshing 1 policies" in d.stderr()):
        time.sleep(0.1)
    check("periodic tick: cache file saved and the policy in use refreshed",
          os.path.exists(cache) and "refreshing 1 policies" in d.stderr(),
          d.stderr())
    time.sleep(1.2)
    got = c.ask("valid.test")
    check("answers go on across refreshes", first == VALID and got == VALID,
          got)
    c.close()
    check("SIGTERM after refreshes: exit 0", d.stop() == 0, d.stderr())


def operations(workdir):
    # systemd's notify protocol: READY=1 once listening, STOPPING=1 at
    # SIGTERM, as datagrams to NOTIFY_SOCKET.
    path = os.path.join(workdir, "notify.sock")
    n = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    n.bind(path)
    n.settimeout(IO_TIMEOUT_S)
    d = Daemon(workdir, env=dict(ENV, NOTIFY_SOCKET=path))
    msg = n.recv(256).decode()
    check("NOTIFY_SOCKET: READY=1 with MAINPID once listening",
          msg == f"READY=1\nMAINPID={d.proc.pid}", msg)
    rc = d.stop()
    msg = n.recv(256).decode()
    check("NOTIFY_SOCKET: STOPPING=1 at SIGTERM", msg == "STOPPING=1" and
          rc == 0, f"{msg!r} rc={rc}")
    n.close()

    # SO_REUSEPORT: a second daemon on the same port with --reuse-port;
    # without it the bind fails (exit 71).
    a = Daemon(workdir, "--reuse-port", "yes")
    b = Daemon(workdir, "--reuse-port", "yes",
               listen=f"127.0.0.1:{a.port}")
    got = [a.connect().ask("192.0.2.1"), b.connect().ask("192.0.2.1")]
    check("--reuse-port: two daemons on one port, both answer",
          b.port == a.port and got == [NOTFOUND, NOTFOUND], got)
    p = subprocess.run([DAEMON, "--listen", f"127.0.0.1:{a.port}"],
                       capture_output=True, timeout=30, check=False)
    check("without --reuse-port the port is taken: exit 71",
          p.returncode == 71, p.stderr)
    a.stop()
    b.stop()

    # --user after the bind (only when the test runs as root).
    if os.geteuid() == 0:
        d = Daemon(workdir, "--user", "nobody")
        c = d.connect()
        got = [c.ask("[192.0.2.1]"), c.ask("valid.test")]
        # Read after an answer: the loop runs only after the drop.
        with open(f"/proc/{d.proc.pid}/status") as f:
            uid = [ln.split()[1:] for ln in f if ln.startswith("Uid:")][0]
        check("--user nobody: every uid is nobody's after the bind, and a "
              "lookup works (CA file read before)",
              set(uid) == {"65534"} and got == [NOTFOUND, VALID],
              f"{uid} {got!r}")
        c.close()
        d.stop()
    else:
        print("(--user: not root, not tried)")
    p = subprocess.run([DAEMON, "--user", "no-such-user-here",
                        "--listen", "127.0.0.1:0"], capture_output=True,
                       timeout=30, check=False)
    check("--user with an unknown user: exit 64", p.returncode == 64,
          p.stderr)

    # --socket-mode for a unix: socket.
    sock = os.path.join(workdir, "mode.sock")
    d = Daemon(workdir, "--socket-mode", "600", listen="unix:" + sock)
    mode = os.stat(sock).st_mode & 0o777
    check("--socket-mode 600: the socket's mode", mode == 0o600, oct(mode))
    d.stop()

    # --socket-owner and --socket-group (root only: chown).
    if os.geteuid() == 0:
        import grp
        import pwd
        owner = pwd.getpwnam("nobody")
        group = grp.getgrgid(owner.pw_gid)
        sock = os.path.join(workdir, "owned.sock")
        os.chmod(workdir, 0o755)  # let nobody reach the socket
        d = Daemon(workdir, "--socket-mode", "660", "--socket-owner",
                   "nobody", "--socket-group", group.gr_name,
                   listen="unix:" + sock)
        st = os.stat(sock)
        check("--socket-owner nobody --socket-group: the socket's owner, "
              "group and mode", (st.st_uid, st.st_gid, st.st_mode & 0o777)
              == (owner.pw_uid, group.gr_gid, 0o660),
              (st.st_uid, st.st_gid, oct(st.st_mode)))
        probe = ("import socket,sys; s=socket.socket(socket.AF_UNIX); "
                 "s.settimeout(10); s.connect(sys.argv[1]); "
                 "s.sendall(b'22:postfix [192.0.2.1]:25,'); "
                 "print(s.recv(100).decode())")
        p = subprocess.run(["/usr/bin/python3", "-c", probe, sock],
                           capture_output=True, text=True, timeout=30,
                           user=owner.pw_uid, group=owner.pw_gid,
                           extra_groups=[], check=False)
        check("the socket's owner (nobody) connects and is answered",
              p.stdout.strip() == "9:NOTFOUND ,", p.stdout + p.stderr)
        d.stop()
    else:
        print("(--socket-owner, --socket-group: not root, not tried)")
    for args, want in ((["--socket-owner", "no-such-user-here"],
                        b"--socket-owner: no such user"),
                       (["--socket-group", "no-such-group-here"],
                        b"--socket-group: no such group")):
        p = subprocess.run([DAEMON, *args, "--listen", "unix:" +
                            os.path.join(workdir, "never.sock")],
                           capture_output=True, timeout=30, check=False)
        check(f"{args[0]} with an unknown name: exit 64", p.returncode == 64
              and want in p.stderr, p.stderr)
    p = subprocess.run([DAEMON, "--socket-group", "root", "--listen",
                        "127.0.0.1:0"], capture_output=True, timeout=30,
                       check=False)
    check("--socket-group with a TCP socket: exit 64", p.returncode == 64 and
          b"need --listen unix:PATH" in p.stderr, p.stderr)


def admin(workdir):
    # Admin requests: NAME __admin, keys dump and purge DOMAIN, from
    # loopback TCP and the Unix socket only.
    path = os.path.join(workdir, "admin.sock")
    d = Daemon(workdir)
    c = d.connect()
    c.ask("valid.test")
    c.ask("deleg.test")
    c.ask("none.test")
    got = c.ask("dump", name="__admin")
    check("admin dump from loopback: OK and JSON", got is not None and
          got.startswith("OK {"), got)
    entries = {}
    if got is not None and got.startswith("OK "):
        doc = json.loads(got[3:])
        entries = {e["domain"]: e for e in doc["entries"]}
        check("dump: count matches the entries", doc["count"] ==
              len(doc["entries"]), doc)
    now = time.time()
    v = entries.get("valid.test", {})
    check("dump: every looked-up policy with id, mode, expiry, last use",
          set(entries) >= {"valid.test", "deleg.test", "none.test"} and
          v.get("id") == "valid1" and v.get("mode") == "enforce" and
          entries["none.test"]["mode"] == "none" and
          now + 86000 < v.get("expires", 0) < now + 86500 and
          now - 60 < v.get("last_used", 0) <= now + 1, entries)
    got = c.ask("purge valid.test", name="__admin")
    check("admin purge: OK purged", got == "OK purged valid.test", got)
    got = c.ask("dump", name="__admin")
    check("after purge: the domain is gone from the dump",
          got.startswith("OK ") and "valid.test" not in
          {e["domain"] for e in json.loads(got[3:])["entries"]}, got)
    got = c.ask("purge VALID.test.", name="__admin")
    check("purge of a domain no longer cached: NOTFOUND", got == NOTFOUND,
          got)
    got = c.ask("valid.test")
    check("after purge: looked up afresh, same answer", got == VALID, got)
    got = [c.ask("purge [192.0.2.1]", name="__admin"),
           c.ask("flush", name="__admin")]
    check("admin: bad domain and unknown key answer PERM",
          got == ["PERM purge: not a domain",
                  "PERM admin keys: dump, purge DOMAIN"], got)
    c.close()
    # A peer outside loopback is refused: shown by the unit tests of
    # admin.c (which peers may send admin requests). Tests never listen
    # or connect beyond loopback, so it is not tried here.
    d.stop()
    d = Daemon(workdir, listen="unix:" + path)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(IO_TIMEOUT_S)
    s.connect(path)
    c = Conn(s)
    c.ask("valid.test")
    got = c.ask("dump", name="__admin")
    check("admin dump over the Unix socket", got.startswith("OK ") and
          json.loads(got[3:])["entries"][0]["domain"] == "valid.test", got)
    c.close()
    d.stop()
    # One policy needs more than --admin-dump-max 64 bytes: refused with
    # PERM, not cut.
    d = Daemon(workdir, "--admin-dump-max", "64")
    c = d.connect()
    c.ask("valid.test")
    got = c.ask("dump", name="__admin")
    check("a dump over the answer limit: PERM with the sizes, no JSON cut",
          got.startswith("PERM dump too large: 1 policies need ") and
          "over the 64-byte socketmap answer limit" in got and
          "refused (too large)" in d.stderr(), got)
    c.close()
    d.stop()


def logging(workdir):
    # stderr on a 4 KiB pipe nobody reads: log lines that would block are
    # dropped, answers keep flowing, and the next line through says how
    # many were dropped (no silent loss).
    r, w = os.pipe()
    fcntl.fcntl(w, 1031, 4096)  # F_SETPIPE_SZ
    argv = [DAEMON, "--listen", "127.0.0.1:0", "--syslog",
            "--resolver", ENV["MTASTS_WORLD_DEAD_RESOLVER"]]
    proc = subprocess.Popen(argv, stderr=w)
    os.close(w)
    first = b""
    end = time.monotonic() + 10
    while b"\n" not in first and time.monotonic() < end:
        if select.select([r], [], [], 0.5)[0]:
            first += os.read(r, 4096)
    line = first.decode()
    port = int(line.split("listening on ", 1)[1].split()[0].rsplit(":", 1)[1])
    c = Conn(socket.create_connection(("127.0.0.1", port),
                                      timeout=IO_TIMEOUT_S))
    total = 400  # each logs ~60 bytes: far more than the pipe holds
    answers = [c.ask(f"purge d{i}.test", name="__admin")
               for i in range(total)]
    check("stderr blocked: every request answered at once all the same",
          answers == [NOTFOUND] * total, answers[:3])
    got = b""
    while select.select([r], [], [], 0.2)[0]:
        got += os.read(r, 65536)
    through = got.decode().count("admin purge ")
    c.ask("purge last.test", name="__admin")
    tail = b""
    end = time.monotonic() + 10
    while b"last.test" not in tail and time.monotonic() < end:
        if select.select([r], [], [], 0.5)[0]:
            tail += os.read(r, 65536)
    text = tail.decode()
    dropped = 0
    if "earlier log lines dropped]" in text:
        dropped = int(text.split("[", 1)[1].split()[0])
    check("the next line through reports the dropped lines, and lines "
          "read + dropped = lines logged",
          dropped > 0 and through + dropped == total and
          "earlier log lines dropped] admin purge last.test" in text,
          f"through={through} dropped={dropped} {text!r}")
    c.close()
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(timeout=15)
    rest = b""
    while select.select([r], [], [], 0.2)[0]:
        data = os.read(r, 65536)
        if not data:
            break
        rest += data
    os.close(r)
    check("--syslog without a syslog daemon: runs, stops with exit 0",
          rc == 0 and b"stopped" in rest, rest)


def world_server_pid(name):
    """The pid of the world's nsd ("dns/nsd.pid") or nginx
    ("nginx/nginx.pid"), from the world's directory."""
    path = os.path.join(os.path.dirname(ENV["MTASTS_WORLD"]), name)
    with open(path) as f:
        return int(f.read().strip())


def stop_pid(pid, wait_s=10):
    """SIGTERM pid and wait until it is gone; True when it is."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    end = time.monotonic() + wait_s
    while time.monotonic() < end:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().split(")")[-1].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


class LockStep:
    """A thread asking domains in turn on conn, one request at a time,
    until stop() (at most 30 s and 500,000 requests); counts the answers
    and keeps the first wrong ones."""

    def __init__(self, conn, domains, want):
        self.conn, self.domains, self.want = conn, domains, want
        self.stats = {"n": 0, "bad": [], "error": None}
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run)
        self.thread.start()

    def run(self):
        end = time.monotonic() + 30
        st = self.stats
        try:
            while not self.done.is_set() and time.monotonic() < end and \
                    st["n"] < 500000:
                k = self.domains[st["n"] % len(self.domains)]
                got = self.conn.ask(k)
                st["n"] += 1
                if got != self.want[k] and len(st["bad"]) < 10:
                    st["bad"].append((k, got))
        except OSError as e:
            st["error"] = repr(e)

    def stop(self):
        self.done.set()
        self.thread.join(timeout=IO_TIMEOUT_S)
        if self.thread.is_alive():
            self.stats["error"] = "load thread still running"
        return self.stats


def redis_server():
    """Path of redis-server when the daemon was built with --redis
    (hiredis) and redis-server is installed; else None."""
    p = subprocess.run([DAEMON, "--redis", "127.0.0.1:0", "--listen",
                        "127.0.0.1:0"], capture_output=True, timeout=30,
                       check=False)
    if b"built without hiredis" in p.stderr:
        return None
    return shutil.which("redis-server",
                        path="/usr/bin:/usr/sbin:/usr/local/bin")


def redis_cmd(port, *args):
    """One Redis command over RESP; the raw reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        req = f"*{len(args)}\r\n".encode()
        for a in args:
            req += f"${len(a)}\r\n{a}\r\n".encode()
        s.sendall(req)
        return s.recv(65536)


def redis(workdir):
    # --redis HOST:PORT: a policy fetched by one daemon is in Redis, and a
    # second daemon that cannot reach the policy hosts answers it from
    # there; then Redis is
    # stopped under lock-step load and cached answers keep flowing.
    server = redis_server()
    if server is None:
        print("(--redis: built without hiredis or no redis-server, "
              "not tried)")
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rlog = open(os.path.join(workdir, "redis.log"), "w")
    rs = subprocess.Popen([server, "--port", str(port), "--bind",
                           "127.0.0.1", "--save", "", "--appendonly", "no",
                           "--daemonize", "no"], stdout=rlog, stderr=rlog)
    try:
        end = time.monotonic() + 10
        up = False
        while not up and time.monotonic() < end:
            try:
                up = redis_cmd(port, "PING") == b"+PONG\r\n"
            except OSError:
                time.sleep(0.05)
        check("redis-server on loopback answers", up)
        a = Daemon(workdir, "--redis", f"127.0.0.1:{port}",
                   "--answer-ttl-s", "1")
        c = a.connect()
        first = c.ask("valid.test")
        keys = redis_cmd(port, "KEYS", "mtasts:*")
        check("--redis: the fetched policy is stored under mtasts:DOMAIN",
              first == VALID and b"mtasts:valid.test" in keys, keys)
        # A second daemon whose policy hosts are unreachable: the TXT id
        # matches the stored policy, so no fetch is needed.
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            dead_port = s.getsockname()[1]
        b = Daemon(workdir, "--redis", f"127.0.0.1:{port}",
                   "--https-port", str(dead_port), "--fetch-timeout-ms",
                   "1000")
        cb = b.connect()
        got = [cb.ask("valid.test"), cb.ask("wild.test")]
        check("--redis: a second daemon with the policy hosts unreachable "
              "answers from the shared store (and NOTFOUND for a domain "
              "not in it)", got == [VALID, NOTFOUND], got)
        cb.close()
        b.stop()
        got = c.ask("purge valid.test", name="__admin")
        keys = redis_cmd(port, "KEYS", "mtasts:*")
        check("--redis: an admin purge deletes the domain from the store "
              "too", got == "OK purged valid.test" and
              b"mtasts:valid.test" not in keys, f"{got} {keys}")
        got = c.ask("valid.test")
        check("--redis: after the purge, fetched and stored again",
              got == VALID and b"mtasts:valid.test" in
              redis_cmd(port, "KEYS", "mtasts:*"), got)
        load = LockStep(c, ["valid.test"], {"valid.test": VALID})
        time.sleep(0.5)
        n0 = load.stats["n"]
        down = stop_pid(rs.pid)
        time.sleep(2.0)  # answers re-checked while Redis is down
        stats = load.stop()
        check("--redis: Redis stopped under load, cached answers flow "
              f"unchanged ({stats['n']} requests), the daemon stays up",
              down and stats["error"] is None and not stats["bad"] and
              stats["n"] - n0 > 100 and a.proc.poll() is None, stats)
        c.close()
        check("--redis: SIGTERM with Redis gone: exit 0", a.stop() == 0,
              a.stderr())
    finally:
        if rs.poll() is None:
            rs.kill()
        rs.wait()
        rlog.close()


def faults(workdir):
    # Mid-load faults (issue 7): a client asks for cached domains in
    # lock-step while the world's DNS server, then its HTTPS server, are
    # stopped. Cached answers must keep flowing unchanged (answers are
    # re-checked in the background every second meanwhile, and those
    # re-checks fail), nothing crashes, and the cache file saved at
    # SIGTERM still has every domain. Runs last: it breaks the world.
    cache = os.path.join(workdir, "fault.cache")
    d = Daemon(workdir, "--cache", cache, "--deadline-ms", "300",
               "--answer-ttl-s", "1", "--fetch-timeout-ms", "1500")
    c = d.connect()
    domains = ["valid.test", "deleg.test", "wild.test", "testing.test",
               "none.test"]
    want = {k: c.ask(k) for k in domains}
    check("faults: warm answers", want["valid.test"] == VALID and
          want["none.test"] == NOTFOUND, want)
    load = LockStep(c, domains, want)
    time.sleep(1.0)
    n0 = load.stats["n"]
    dns_down = stop_pid(world_server_pid("dns/nsd.pid"))
    time.sleep(2.5)  # answers stale, re-checked against a dead DNS
    n1 = load.stats["n"]
    https_down = stop_pid(world_server_pid("nginx/nginx.pid"))
    time.sleep(2.5)
    n2 = load.stats["n"]
    alive = d.proc.poll() is None
    # An enforce domain never asked before: with DNS down, NOTFOUND at
    # the deadline (the outage is real for the daemon; with DNS up it
    # would be OK secure match=mail.charset.test ...).
    fresh = d.connect()
    got_new = fresh.ask("charset.test")
    fresh.close()
    stats = load.stop()
    check("faults: DNS server, then HTTPS server stopped",
          dns_down and https_down)
    check("faults: cached answers flowed unchanged through both outages "
          f"({stats['n']} lock-step requests)",
          stats["error"] is None and not stats["bad"]
          and n1 - n0 > 100 and n2 - n1 > 100 and alive,
          f"{stats} n0={n0} n1={n1} n2={n2} alive={alive}")
    check("faults: an uncached enforce domain meanwhile answers NOTFOUND",
          got_new == NOTFOUND, got_new)
    c.close()
    rc = d.stop()
    check("faults: SIGTERM after the outages: exit 0", rc == 0, d.stderr())
    # The saved file still has every domain: a daemon with DNS and HTTPS
    # down loads it and dumps it.
    d = Daemon(workdir, "--cache", cache, "--deadline-ms", "300",
               resolver=ENV["MTASTS_WORLD_DEAD_RESOLVER"])
    c = d.connect()
    got = c.ask("dump", name="__admin")
    saved = set()
    if got is not None and got.startswith("OK "):
        saved = {e["domain"] for e in json.loads(got[3:])["entries"]}
    check("faults: the cache file saved at SIGTERM has every domain",
          saved >= set(domains), got)
    got = {k: c.ask(k) for k in domains}
    check("faults: restarted with everything down, the same answers "
          "(R8461-3.3-m)", got == want, got)
    c.close()
    d.stop()


def main():
    with tempfile.TemporaryDirectory() as workdir:
        d = Daemon(workdir)
        try:
            answer_types(d)
            key_forms(d)
            pipelining(d)
            partial(d)
            bad_input(d)
            disconnects(d)
        finally:
            rc = d.stop()
        check("SIGTERM: exit 0", rc == 0, rc)
        deadline(workdir)
        zones_and_unix(workdir)
        cache_file(workdir)
        periodic(workdir)
        operations(workdir)
        admin(workdir)
        logging(workdir)
        redis(workdir)
        faults(workdir)  # last: stops the world's DNS and HTTPS servers
        reports = []
        for log in LOGS:
            with open(log) as f:
                text = f.read()
            if "Sanitizer" in text or "runtime error" in text:
                reports.append(text)
        check("no sanitizer report in any daemon's log", not reports,
              "\n".join(reports)[:4000])
    return check.finish()


if __name__ == "__main__":
    sys.exit(main())
