#!/usr/bin/env python3
"""mtasts-socketmap side by side with postfix-mta-sts-resolver (issue 7).

    netns.py run.py --dns-port 53 --https-port 443 \\
        sidebyside.py check MTASTS_SOCKETMAP MTA_STS_DAEMON
    netns.py run.py --dns-port 53 --https-port 443 \\
        sidebyside.py bench MTASTS_SOCKETMAP MTA_STS_DAEMON BENCH_SOCKETMAP

The Python daemon (Debian's postfix-mta-sts-resolver, `mta-sts-daemon`)
has no resolver or port setting: it asks the system resolver
(/etc/resolv.conf, through aiodns/c-ares) and fetches
https://mta-sts.DOMAIN/ on port 443, verified against the system CA store
(aiohttp with ssl.create_default_context(), so SSL_CERT_FILE names the
CA file). So this runs in a private network namespace (netns.py: a fresh
loopback, resolv.conf `nameserver 127.0.0.1`) where the loopback world
(run.py) serves DNS on 127.0.0.1:53 and HTTPS on port 443; the Python
daemon runs there with SSL_CERT_FILE set to the world's CA and its
built-in defaults (internal cache, timeout 4 s, strict_testing off,
require_sni on) on 127.0.0.1:8461, and mtasts-socketmap with its
defaults on a free port, its fetch timeout set to the Python daemon's 4 s.

check: every world domain, cold then warm, in the key forms Postfix
sends (DOMAIN, upper case, trailing dot, [DOMAIN], [DOMAIN]:25,
DOMAIN:25) and a few odd keys, asked of both daemons on one pipelined
connection each (both answer in request order); plus the testing-mode
domains in a zone with strict testing on both sides. Every answer must
be byte-identical. A difference is allowed only by an entry of ALLOWED
below (each one a documented, deliberate difference of ours, with the
reason); every allowed difference is listed, every other one fails.

bench: bench_socketmap (lock-step load, the same client) against each
daemon in turn, then one line per figure with the ratio ours/Python
(figures only, never pass/fail on timing; a wrong answer fails).

Standard library only.
"""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import socketmap as sm  # noqa: E402  (its Daemon, Conn and check recorder)

ENV = os.environ
check = sm.check
PY_PORT = 8461  # the Python daemon's default; the namespace is private
START_S = 20.0  # the Python daemon's start (imports) at most
STOP_S = 30.0  # its graceful stop waits for handlers, then sleeps 1 s
FETCH_TIMEOUT_MS = 4000  # defaults.TIMEOUT of the Python daemon
SERVERNAME = " servername=hostname"


class PyDaemon:
    """postfix-mta-sts-resolver's mta-sts-daemon on 127.0.0.1:PY_PORT."""

    def __init__(self, workdir, exe, strict_zone=None):
        self.conf = os.path.join(workdir, "mta-sts-daemon.yml")
        self.log = os.path.join(workdir, "mta-sts-daemon.log")
        zones = ""
        if strict_zone:
            zones = f"zones:\n  {strict_zone}:\n    strict_testing: true\n"
        with open(self.conf, "w") as f:
            f.write(f"host: 127.0.0.1\nport: {PY_PORT}\n"
                    "cache:\n  type: internal\n"
                    "  options:\n    cache_size: 10000\n" + zones)
        env = dict(ENV, SSL_CERT_FILE=ENV["MTASTS_WORLD_CA"])
        env.pop("SSL_CERT_DIR", None)
        with open(self.log, "w") as f:
            self.proc = subprocess.Popen(
                [exe, "-c", self.conf, "-v", "warn"], stdout=f,
                stderr=subprocess.STDOUT, env=env)
        self.port = PY_PORT
        end = time.monotonic() + START_S
        while time.monotonic() < end and self.proc.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", PY_PORT),
                                         timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("mta-sts-daemon did not start: " + self.output())

    def output(self):
        with open(self.log) as f:
            return f.read()

    def connect(self):
        return sm.Conn(socket.create_connection(
            ("127.0.0.1", self.port), timeout=sm.IO_TIMEOUT_S))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=STOP_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None


def ours(workdir, strict_zone=None):
    conf = os.path.join(workdir, "mtasts-socketmap.conf")
    with open(conf, "w") as f:
        if strict_zone:
            f.write(f"[zone {strict_zone}]\nstrict-testing = yes\n")
    return sm.Daemon(workdir, "--config", conf, "--fetch-timeout-ms",
                     str(FETCH_TIMEOUT_MS))


def rss_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return -1.0


def world_setup_ok():
    """The world must serve where the Python daemon looks."""
    return (check("the world's DNS is on 127.0.0.1:53 (run.py --dns-port 53)",
                  ENV.get("MTASTS_WORLD_RESOLVER") == "127.0.0.1@53",
                  ENV.get("MTASTS_WORLD_RESOLVER"))
            and check("the world's HTTPS port is 443 (run.py --https-port "
                      "443)", ENV.get("MTASTS_WORLD_HTTPS_PORT") == "443",
                      ENV.get("MTASTS_WORLD_HTTPS_PORT"))
            and check("/etc/resolv.conf names 127.0.0.1 (netns.py)",
                      "nameserver 127.0.0.1" in open("/etc/resolv.conf")
                      .read()))


# ---- check ---------------------------------------------------------------


def _matches(answer):
    m = re.fullmatch(r"OK secure match=(\S+)((?: \S+)*)", answer or "")
    return (m.group(1).split(":"), m.group(2)) if m else None


def _same_but_match_order(key, our, py):
    a, b = _matches(our), _matches(py)
    return a is not None and b is not None and a[1] == b[1] and \
        a[0] != b[0] and sorted(a[0]) == sorted(set(b[0]))


def _python_only_fetches(domain):
    """A test: the Python daemon enforces a policy for domain where the
    library, stricter, finds none (any key form of domain)."""
    return lambda key, our, py: _domain(key) == domain and \
        our == sm.NOTFOUND and (py or "").startswith("OK secure")


# Differences that are ours by design, each documented in
# examples/socketmap/README.md ("Side by side with postfix-mta-sts-
# resolver"). An entry: (short name, test(key, our answer, Python's
# answer), why). None as an answer: the daemon closed the connection.
ALLOWED = [
    ("match= order",
     _same_but_match_order,
     "the Python daemon writes the mx patterns in the order of a Python "
     "set() (responder.py: `set(cached.pol_body['mx'])`), which changes "
     "from process to process with string hash randomization; ours keeps "
     "the policy's order (README: 'in policy order'); same patterns"),
    ("key the Python daemon chokes on",
     lambda key, our, py: py is None and our == sm.NOTFOUND and
     key in OWN_CONN_KEYS,
     "non-ASCII keys (the Python daemon decodes the request as ASCII) and "
     "names with an empty label (its resolver raises on them): the "
     "exception ends the Python daemon's connection, and every request "
     "pipelined after it is lost; ours answers 'NOTFOUND ' and keeps the "
     "connection (README 'The protocol', issue 7: never a dropped "
     "connection)"),
    ("TXT record syntax",
     _python_only_fetches("badtxt.test"),
     "`v=STSv1; id=bad!`: the Python daemon only wants v=STSv1 and some "
     "id; RFC 8461 §3.1 (A.1 grammar, id is 1*32 alphanumerics) makes a "
     "record with a syntax error no policy (CHECKLIST R8461-3.1-e, "
     "docs/txt.md)"),
    ("certificate without subjectAltName",
     _python_only_fetches("cnonly.test"),
     "the policy host's certificate names it in the subject CN only; "
     "Python's ssl module falls back to the CN, the library matches "
     "DNS-IDs only (RFC 8461 §3.3 with RFC 6125/9525; CHECKLIST "
     "R8461-3.3-c, docs/hooks.md)"),
    # Not an improvement: a limit of the TLS stack, listed so it is seen.
    ("TLS 1.3-only policy host",
     _python_only_fetches("tls13.test"),
     "the library built with mbedTLS 2.28 speaks TLS 1.2 at most, so a "
     "policy host that accepts only TLS 1.3 cannot be fetched (RFC 8461 "
     "§3.3 asks for TLS 1.2 or later; world.py tls13.test accepts either "
     "outcome); built with a TLS 1.3 client, no difference shows"),
]


def _domain(key):
    """The policy domain a key names, as both daemons read it."""
    if isinstance(key, bytes):
        return None
    key = key.lower()
    if key.startswith("["):
        key = key[1:].split("]", 1)[0]
    else:
        key = key.rsplit(":", 1)[0]
    return key.rstrip(".")


def key_forms(name):
    up = name.upper()
    return [name, up, name + ".", f"[{name}]", f"[{up}.]:25", f"{name}:25"]


ODD_KEYS = [".valid.test", "[192.0.2.1]", "192.0.2.1", "[192.0.2.1]:25",
            "[IPv6:2001:db8::1]", "2001:db8::1", "[valid.test]:587",
            "valid.test:smtp", "[valid.test]:submission", "Valid.Test.:25",
            ""]
# Each on a connection of its own: the Python daemon drops the
# connection on these (see ALLOWED).
OWN_CONN_KEYS = ["b\u00fccher.test".encode(), b"\xff\xfe.test",
                 "valid..test"]


def ask_all(daemon, requests, out):
    """Pipeline every (name, key) on one connection; answers in order,
    None for each answer missing when the daemon closed it."""
    c = daemon.connect()
    try:
        data = b"".join(sm.netstring(name.encode() + b" " + (
            key if isinstance(key, bytes) else key.encode()))
            for name, key in requests)
        threading.Thread(target=c.send, args=(data,), daemon=True).start()
        for _ in requests:
            try:
                out.append(c.answer())
            except OSError:
                out.append(None)
    finally:
        c.close()


def both(our_d, py_d, requests):
    """The same requests of both daemons at once; ([ours], [Python's])."""
    a, b = [], []
    threads = [threading.Thread(target=ask_all, args=(d, requests, o))
               for d, o in ((our_d, a), (py_d, b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(3 * sm.IO_TIMEOUT_S)
    return a, b


def compare(label, requests, our, py, allowed_seen, diffs):
    check(f"{label}: both daemons answered all {len(requests)} requests",
          len(our) == len(py) == len(requests), f"{len(our)} {len(py)}")
    for (name, key), x, y in zip(requests, our, py):
        if x == y:
            continue
        for what, test, _ in ALLOWED:
            if test(key, x, y):
                allowed_seen.setdefault(what, []).append((name, key, x, y))
                break
        else:
            diffs.append((label, name, key, x, y))


def run_check(workdir, daemon_exe):
    domains = [d["name"] for d in json.load(open(ENV["MTASTS_WORLD"]))
               ["domains"]]
    check("the world has domains", len(domains) > 20, len(domains))
    our_d = ours(workdir, strict_zone="strict")
    py_d = PyDaemon(workdir, daemon_exe, strict_zone="strict")
    allowed_seen, diffs = {}, []
    same = 0
    try:
        t0 = time.monotonic()
        cold = [("postfix", d) for d in domains]
        a, b = both(our_d, py_d, cold)
        compare("cold", cold, a, b, allowed_seen, diffs)
        print(f"cold round: {time.monotonic() - t0:.1f} s", flush=True)
        warm = [("postfix", k) for d in domains for k in key_forms(d)]
        warm += [("postfix", k) for k in ODD_KEYS]
        warm += [("unknown-zone", "valid.test"), ("strict", "testing.test"),
                 ("strict", "mxtesting.test"), ("strict", "none.test"),
                 ("strict", "valid.test")]
        t0 = time.monotonic()
        a, b = both(our_d, py_d, warm)
        compare("warm", warm, a, b, allowed_seen, diffs)
        print(f"warm round: {time.monotonic() - t0:.1f} s", flush=True)
        same = sum(1 for x, y in zip(a, b) if x == y)
        for key in OWN_CONN_KEYS:
            a, b = both(our_d, py_d, [("postfix", key)])
            compare(f"own connection {key!r}", [("postfix", key)], a, b,
                    allowed_seen, diffs)
        # the answers the comparison rests on are real ones, on both sides
        probe = [("postfix", "valid.test"), ("postfix", "testing.test"),
                 ("strict", "testing.test"), ("postfix", "none.test")]
        for who, got in zip(("ours", "Python's"), both(our_d, py_d, probe)):
            check(f"{who}: valid.test enforced, testing.test and none.test "
                  f"NOTFOUND, testing.test enforced with strict testing",
                  len(got) == 4 and
                  sorted((_matches(got[0]) or [[]])[0]) ==
                  [".backup.valid.test", "mail.valid.test"] and
                  got[1] == got[3] == sm.NOTFOUND and
                  got[2] == "OK secure match=mail.testing.test" + SERVERNAME,
                  got)
    finally:
        rc_ours, rc_py = our_d.stop(), py_d.stop()
    print(f"\n{same} of {len(warm)} warm answers byte-identical")
    for what, seen in allowed_seen.items():
        why = next(w for n, t, w in ALLOWED if n == what)
        print(f"\nallowed difference '{what}' ({len(seen)} answers): {why}")
        for name, key, x, y in seen[:8]:
            print(f"    {name} {key!r}: ours {x!r}, Python {y!r}")
    if diffs:
        print(f"\n{len(diffs)} differences not in the allow-list:")
        for label, name, key, x, y in diffs:
            print(f"    {label} {name} {key!r}: ours {x!r}, Python {y!r}")
    check("no difference outside the allow-list", not diffs, len(diffs))
    check("mtasts-socketmap: exit 0 on SIGTERM", rc_ours == 0, rc_ours)
    check("mta-sts-daemon stopped on SIGTERM", rc_py is not None, rc_py)
    text = our_d.stderr()
    check("no sanitizer report", "Sanitizer" not in text and
          "runtime error" not in text, text[-2000:])


# ---- bench ---------------------------------------------------------------

FIGURE = re.compile(r"^(?P<label>\S+) (?P<what>.+?): (?P<rate>\d+) req/s"
                    r"(?:, p50 (?P<p50>[\d.]+) us, p99 (?P<p99>[\d.]+) us)?"
                    r".*?\((?:n=\d+, )?(?P<conns>\d+) connections?\)")
RSS = re.compile(r"^(?P<label>\S+) (?P<what>.*RSS.*): (?P<mb>[\d.]+) MB")


def bench_one(bench, label, port, pid):
    r = subprocess.run([bench, "--label", label, "--pid", str(pid),
                        "--any-match-order", "-", f"127.0.0.1:{port}"],
                       capture_output=True, text=True, timeout=120,
                       check=False)
    sys.stdout.write(r.stdout)
    sys.stderr.write(r.stderr)
    sys.stdout.flush()
    check(f"bench_socketmap against {label}: every answer right",
          r.returncode == 0, r.returncode)
    figs, rss = {}, {}
    for line in r.stdout.splitlines():
        m = FIGURE.match(line)
        if m:
            figs[(m["what"], m["conns"])] = m
        m = RSS.match(line)
        if m:
            rss[m["what"]] = float(m["mb"])
    return figs, rss


def run_bench(workdir, daemon_exe, bench):
    our_d = ours(workdir)
    try:
        o_figs, o_rss = bench_one(bench, "mtasts-socketmap", our_d.port,
                                  our_d.proc.pid)
    finally:
        check("mtasts-socketmap: exit 0 on SIGTERM", our_d.stop() == 0)
    py_d = PyDaemon(workdir, daemon_exe)
    try:
        p_figs, p_rss = bench_one(bench, "postfix-mta-sts-resolver",
                                  py_d.port, py_d.proc.pid)
    finally:
        py_d.stop()
    print("\nside by side, mtasts-socketmap / postfix-mta-sts-resolver "
          "(same client, same namespace, same world):")
    for key, o in o_figs.items():
        p = p_figs.get(key)
        if p is None or o["what"].startswith("ceiling"):
            continue  # the ceiling is the client's, the same for both
        line = (f"side-by-side {o['what']}, {key[1]} conn: "
                f"{o['rate']} req/s vs {p['rate']} req/s = "
                f"{int(o['rate']) / max(1, int(p['rate'])):.2f}x")
        if o["p50"] and p["p50"]:
            line += (f"; p50 {o['p50']} us vs {p['p50']} us = "
                     f"{float(o['p50']) / float(p['p50']):.2f}x; "
                     f"p99 {o['p99']} us vs {p['p99']} us = "
                     f"{float(o['p99']) / float(p['p99']):.2f}x")
        print(line)
    for what, mb in o_rss.items():
        if what in p_rss and p_rss[what] > 0:
            print(f"side-by-side {what}: {mb:.1f} MB vs {p_rss[what]:.1f} MB"
                  f" = {mb / p_rss[what]:.2f}x")
    check("figures from both daemons", bool(o_figs) and bool(p_figs) and
          set(o_figs) <= set(p_figs), f"{list(o_figs)} {list(p_figs)}")


def main():
    if len(sys.argv) < 4 or sys.argv[1] not in ("check", "bench") or \
            sys.argv[1] == "bench" and len(sys.argv) < 5:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    mode, daemon_exe = sys.argv[1], sys.argv[3]
    sm.DAEMON = sys.argv[2]  # socketmap.py's Daemon starts this one
    if not world_setup_ok():
        return check.finish()
    with tempfile.TemporaryDirectory() as workdir:
        if mode == "check":
            run_check(workdir, daemon_exe)
        else:
            run_bench(workdir, daemon_exe, sys.argv[4])
    return check.finish()


if __name__ == "__main__":
    sys.exit(main())
