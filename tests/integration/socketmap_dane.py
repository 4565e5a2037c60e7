#!/usr/bin/env python3
"""mtasts-socketmap --dane against a validating resolver (run by run.py).

Usage: run.py socketmap_dane.py PATH-TO-mtasts-socketmap

On top of the loopback world (its nsd serves the _mta-sts records, its
nginx the policies), this fixture signs zones on the fly with ldns-keygen
and ldns-signzone (Debian ldnsutils), serves them with a second nsd, and
starts unbound (Debian unbound) on 127.0.0.1 as the validating resolver:
a trust anchor per signed zone, stub zones to both nsd servers, no root
anchor (so every other name is insecure). The daemon asks unbound.

Each zone takes over a world domain whose enforce policy nginx serves
(the zone repeats its _mta-sts TXT record and policy host address):

  valid.test     signed, MX mail.valid.test with a TLSA record at
                 _25._tcp.mail.valid.test            --dane: NOTFOUND
  wild.test      signed, MX without TLSA             the MTA-STS answer
  split.test     unsigned (no trust anchor), MX and TLSA records
                                                     the MTA-STS answer
  charset.test   signed, the TLSA RRset altered after signing (bogus:
                 unbound answers SERVFAIL)           --dane: NOTFOUND
  splitmid.test  signed, the MX RRset altered after signing (bogus MX)
                                                     the MTA-STS answer

Without --dane every domain gets the MTA-STS answer (the default stays
byte-compatible with postfix-mta-sts-resolver). A policy from the cache
file is not answered with --dane before DANE was checked. Checklist:
R8461-2-a,
R8461-2-b. Every wait is bounded. Standard library only.
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import socketmap as sm  # noqa: E402  (its Daemon, Conn and check recorder)
import world  # noqa: E402  (pick_port, _die_with_parent, _stop_child)

check = sm.check
ENV = os.environ
TOOL_S = 30  # one ldns-keygen, ldns-signzone, nsd-checkconf or drill run
READY_S = 10  # unbound and nsd must answer within this
TLSA = "3 1 1 " + "ab" * 32  # DANE-EE SPKI SHA2-256 (RFC 7672 §3.1.1)


def secure(domain):
    return f"OK secure match=mail.{domain} servername=hostname"


VALID = sm.VALID
# zone: (signed, TXT id at _mta-sts, extra records, how to break it,
#        answer without --dane, answer with --dane, why)
ZONES = {
    "valid.test": (True, "valid1", "tlsa", None, VALID, sm.NOTFOUND,
                   "secure MX with secure TLSA: DANE applies"),
    "wild.test": (True, "wild1", "", None, secure("wild.test"),
                  secure("wild.test"),
                  "secure MX, TLSA proven absent: MTA-STS"),
    "split.test": (False, "split1", "tlsa", None, secure("split.test"),
                   secure("split.test"),
                   "unsigned zone with TLSA records: MTA-STS"),
    "charset.test": (True, "charset1", "tlsa", "TLSA", secure("charset.test"),
                     sm.NOTFOUND,
                     "secure MX, bogus TLSA (SERVFAIL): not downgraded to "
                     "MTA-STS, NOTFOUND for Postfix's dane level"),
    "splitmid.test": (True, "splitmid1", "tlsa", "MX",
                      secure("splitmid.test"), secure("splitmid.test"),
                      "bogus MX (SERVFAIL): MTA-STS (Postfix's own MX "
                      "lookup fails too and defers)"),
}


def tool(name):
    """A program from $MTASTS_<NAME> (set by meson), PATH or /usr/sbin."""
    found = ENV.get("MTASTS_" + name.upper().replace("-", "_")) or \
        shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if not found:
        print(f"skipped: {name} not installed (Debian unbound, ldnsutils)")
        sys.exit(77)
    return found


def run(argv, cwd):
    r = subprocess.run(argv, cwd=cwd, capture_output=True, text=True,
                       timeout=TOOL_S, check=False)
    if r.returncode != 0:
        raise RuntimeError(f"{argv[0]}: {r.stdout}{r.stderr}")
    return r.stdout


def zone_text(domain, txt_id, extra):
    mx = f"mail.{domain}."
    lines = [f"$ORIGIN {domain}.", "$TTL 60",
             f"@ IN SOA ns.{domain}. hostmaster.{domain}. 1 3600 600 86400 60",
             f"@ IN NS ns.{domain}.", "ns IN A 127.0.0.1",
             f"@ IN MX 10 {mx}", "mail IN A 127.0.0.1",
             f'_mta-sts IN TXT "v=STSv1; id={txt_id}"',
             "mta-sts IN A 127.0.0.1"]
    if extra == "tlsa":
        lines.append(f"_25._tcp.mail IN TLSA {TLSA}")
    return "\n".join(lines) + "\n"


def break_rrset(path, rtype):
    """Alter the rdata of the RRset of rtype after signing: its RRSIG no
    longer verifies, a validator calls it bogus."""
    with open(path) as f:
        lines = f.read().splitlines()
    done = 0
    for i, line in enumerate(lines):
        f = line.split()
        if len(f) > 4 and f[3] == rtype:
            if rtype == "MX":
                f[4] = "20"
            else:
                f[-1] = "cd" * 32
            lines[i] = "\t".join(f)
            done += 1
    if done != 1:
        raise RuntimeError(f"{path}: {done} {rtype} records altered")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def make_zones(d):
    """Zone files (signed ones via ldns-signzone) and trust anchors."""
    anchors = []
    for domain, (signed, txt_id, extra, breaks, *_) in ZONES.items():
        path = os.path.join(d, domain + ".zone")
        with open(path, "w") as f:
            f.write(zone_text(domain, txt_id, extra))
        if not signed:
            continue
        key = run([tool("ldns-keygen"), "-a", "ECDSAP256SHA256", "-k",
                   domain], d).strip()
        run([tool("ldns-signzone"), "-f", path + ".signed", path, key], d)
        os.replace(path + ".signed", path)
        if breaks:
            break_rrset(path, breaks)
        anchors.append(os.path.join(d, key + ".ds"))
    return anchors


UNBOUND_CONF = """server:
  interface: 127.0.0.1
  port: {port}
  outgoing-interface: 127.0.0.1
  do-ip6: no
  do-daemonize: no
  use-syslog: no
  logfile: "{dir}/unbound.log"
  verbosity: 1
  val-log-level: 2
  username: ""
  chroot: ""
  directory: "{dir}"
  pidfile: "{dir}/unbound.pid"
  num-threads: 1
  so-reuseport: no
  outgoing-range: 64
  do-not-query-localhost: no
  module-config: "validator iterator"
  qname-minimisation: no
  local-zone: "test." nodefault
  local-zone: "invalid." nodefault
{anchors}
remote-control:
  control-enable: no
{stubs}"""


def spawn(argv, log):
    with open(log, "w") as out:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT,
                                preexec_fn=world._die_with_parent(os.getpid()))


def drill(port, name, rtype):
    """(rcode, flags) of a DO query to 127.0.0.1@port, by drill."""
    r = subprocess.run([tool("drill"), "-D", "-p", str(port), "@127.0.0.1",
                        rtype, name], capture_output=True, text=True,
                       timeout=TOOL_S, check=False)
    rcode, flags = "none", set()
    for line in r.stdout.splitlines():
        if "rcode:" in line:
            rcode = line.split("rcode:", 1)[1].split(",")[0].strip()
        if line.startswith(";; flags:"):
            flags = set(line.split(":", 1)[1].split(";")[0].split())
    return rcode, flags


def start_dns(d):
    nsd_dir = os.path.join(d, "nsd")
    os.makedirs(nsd_dir)
    anchors = make_zones(nsd_dir)
    nsd_port = world.pick_port(["127.0.0.1"],
                               (socket.SOCK_STREAM, socket.SOCK_DGRAM))
    conf = os.path.join(nsd_dir, "nsd.conf")
    with open(conf, "w") as f:
        # the world's own nsd settings, on 127.0.0.1 only
        f.write(f"server:\n  ip-address: 127.0.0.1@{nsd_port}\n")
        f.write(world.NSD_CONF.format(port=nsd_port, dir=nsd_dir, ip6="no",
                                      user='""'))
        for domain in ZONES:
            f.write(f"zone:\n  name: {domain}.\n  zonefile: {domain}.zone\n")
    run([ENV.get("MTASTS_NSD_CHECKCONF") or tool("nsd-checkconf"), conf], d)
    nsd = spawn([ENV.get("MTASTS_NSD") or tool("nsd"), "-d", "-c", conf],
                os.path.join(nsd_dir, "nsd.out"))
    ub_port = world.pick_port(["127.0.0.1"],
                              (socket.SOCK_STREAM, socket.SOCK_DGRAM))
    world_dns = ENV["MTASTS_WORLD_RESOLVER"]
    stubs = "".join(f'stub-zone:\n  name: "{z}."\n  '
                    f'stub-addr: 127.0.0.1@{nsd_port}\n' for z in ZONES)
    stubs += "".join(f'stub-zone:\n  name: "{z}"\n  stub-addr: {world_dns}\n'
                     for z in world.ZONES)
    ub_dir = os.path.join(d, "unbound")
    os.makedirs(ub_dir)
    conf = os.path.join(ub_dir, "unbound.conf")
    with open(conf, "w") as f:
        f.write(UNBOUND_CONF.format(
            port=ub_port, dir=ub_dir, stubs=stubs,
            anchors="".join(f'  trust-anchor-file: "{a}"\n'
                            for a in anchors)))
    run([tool("unbound-checkconf"), conf], d)
    unbound = spawn([tool("unbound"), "-d", "-c", conf],
                    os.path.join(ub_dir, "unbound.out"))
    end = time.monotonic() + READY_S
    while time.monotonic() < end:
        for p, name in ((nsd, "nsd"), (unbound, "unbound")):
            if p.poll() is not None:
                raise RuntimeError(f"{name} exited {p.returncode}")
        if drill(ub_port, "valid.test", "SOA")[0] == "NOERROR":
            return nsd, unbound, f"127.0.0.1@{ub_port}"
        time.sleep(0.1)
    raise RuntimeError("unbound did not answer in time")


def resolver_checks(resolver):
    port = resolver.split("@")[1]
    rcode, flags = drill(port, "valid.test", "MX")
    check("unbound: valid.test MX is secure (AD)", rcode == "NOERROR" and
          "ad" in flags, f"{rcode} {flags}")
    rcode, flags = drill(port, "_25._tcp.mail.valid.test", "TLSA")
    check("unbound: its TLSA record is secure (AD)", rcode == "NOERROR" and
          "ad" in flags, f"{rcode} {flags}")
    rcode, flags = drill(port, "split.test", "MX")
    check("unbound: split.test MX is insecure (no AD)", rcode == "NOERROR" and
          "ad" not in flags, f"{rcode} {flags}")
    rcode, _ = drill(port, "_25._tcp.mail.charset.test", "TLSA")
    check("unbound: charset.test's altered TLSA is bogus (SERVFAIL)",
          rcode == "SERVFAIL", rcode)
    rcode, _ = drill(port, "splitmid.test", "MX")
    check("unbound: splitmid.test's altered MX is bogus (SERVFAIL)",
          rcode == "SERVFAIL", rcode)


def answers(workdir, resolver, dane):
    args = ["--dane"] if dane else []
    d = sm.Daemon(workdir, *args, resolver=resolver)
    c = d.connect()
    label = "--dane" if dane else "default"
    for domain, (*_, without, with_dane, why) in ZONES.items():
        want = with_dane if dane else without
        got = c.ask(domain)
        check(f"{label}: {domain} ({why}) -> {want!r}"
              if dane else f"{label}: {domain} -> {want!r}", got == want, got)
    # A second ask comes from the answer table, DANE verdict included.
    got = c.ask("[valid.test]:25")
    check(f"{label}: valid.test again, from the table",
          got == (sm.NOTFOUND if dane else VALID), got)
    c.close()
    check(f"{label}: clean exit on SIGTERM", d.stop() == 0)
    text = d.stderr()
    if dane:
        check("--dane: the log says why (DANE applies, tlsa-fail, mx-fail)",
              "valid.test: DANE applies" in text and
              "charset.test: DANE tlsa-fail" in text and
              "splitmid.test: DANE mx-fail" in text and
              "split.test: DANE none" in text, text[-3000:])
    check(f"{label}: no sanitizer report",
          "Sanitizer" not in text and "runtime error" not in text,
          text[-2000:])


def cache_file(workdir, resolver):
    # A policy saved by a daemon without --dane answers at once after a
    # restart, but with --dane only once DANE was checked: valid.test's
    # cached enforce policy must not be answered before its TLSA records
    # are seen.
    cache = os.path.join(workdir, "cache")
    d = sm.Daemon(workdir, "--cache", cache, resolver=resolver)
    c = d.connect()
    got = c.ask("valid.test")
    c.close()
    check("cache: valid.test fetched without --dane", got == VALID, got)
    check("cache: saved at SIGTERM", d.stop() == 0 and os.path.exists(cache))
    d = sm.Daemon(workdir, "--cache", cache, "--dane", resolver=resolver)
    c = d.connect()
    got = c.ask("valid.test")
    c.close()
    check("cache: with --dane the cached policy waits for the DANE check "
          "(NOTFOUND, not the cached MTA-STS answer; R8461-2-a)",
          got == sm.NOTFOUND and "valid.test: DANE applies" in d.stderr(),
          got)
    check("cache: clean exit on SIGTERM", d.stop() == 0)


def deadline(workdir):
    # --dane with a resolver that never answers: the answer still comes
    # by the deadline (NOTFOUND, the lookup goes on in the background).
    d = sm.Daemon(workdir, "--dane", "--deadline-ms", "500",
                  resolver=ENV["MTASTS_WORLD_DEAD_RESOLVER"])
    c = d.connect()
    t0 = time.monotonic()
    got = c.ask("valid.test")
    elapsed = time.monotonic() - t0
    check("--dane, dead resolver: NOTFOUND by the deadline",
          got == sm.NOTFOUND and elapsed < 3.0, f"{got!r} {elapsed:.2f} s")
    c.close()
    check("--dane, dead resolver: clean exit on SIGTERM", d.stop() == 0)


def main():
    t0 = time.monotonic()
    procs = []
    with tempfile.TemporaryDirectory() as d:
        try:
            nsd, unbound, resolver = start_dns(d)
            procs = [nsd, unbound]
            print(f"signed zones and unbound up in "
                  f"{time.monotonic() - t0:.2f} s", flush=True)
            resolver_checks(resolver)
            answers(d, resolver, dane=False)
            answers(d, resolver, dane=True)
            cache_file(d, resolver)
            deadline(d)
        finally:
            for p in procs:
                world._stop_child(p)
            for log in ("unbound/unbound.log", "nsd/nsd.log"):
                if check.failures and os.path.exists(os.path.join(d, log)):
                    with open(os.path.join(d, log)) as f:
                        print(f"--- {log}\n" + f.read()[-3000:])
    print(f"socketmap_dane: {time.monotonic() - t0:.2f} s", flush=True)
    return check.finish()


if __name__ == "__main__":
    sys.exit(main())
