#!/usr/bin/env python3
"""A real Postfix asks mtasts-socketmap (run by run.py).

Usage: run.py postfix_socketmap.py PATH-TO-mtasts-socketmap

Debian's postfix package (postmap, postconf; no Postfix daemon is
started): a scratch config directory whose main.cf sets
smtp_tls_policy_maps = socketmap:inet:127.0.0.1:PORT:postfix, the map
read back with postconf, and `postmap -q DOMAIN MAP` for each test domain
of the loopback world, as Postfix's SMTP client looks up its TLS policy.
postmap prints the value without the "OK " of the socketmap answer and
exits 1 for NOTFOUND. `postmap -q -` asks several keys over one
connection. Exit 77 (skipped) when postmap is not installed. Standard
library only.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
from checks import Checks  # noqa: E402

DAEMON = sys.argv[1]
ENV = os.environ
POSTMAP = shutil.which("postmap", path="/usr/sbin:/usr/bin:/sbin")
POSTCONF = shutil.which("postconf", path="/usr/sbin:/usr/bin:/sbin")

SECURE = {
    "valid.test": "secure match=mail.valid.test:.backup.valid.test "
                  "servername=hostname",
    "wild.test": "secure match=mail.wild.test servername=hostname",
    "deleg.test": "secure match=mail.deleg.test servername=hostname",
    "split.test": "secure match=mail.split.test servername=hostname",
    "[valid.test]:25": "secure match=mail.valid.test:.backup.valid.test "
                       "servername=hostname",
    "VALID.TEST": "secure match=mail.valid.test:.backup.valid.test "
                  "servername=hostname",
}
NONE = ["testing.test", "none.test", "nxdomain.test", "notxt.test",
        "badpolicy.test", "[192.0.2.1]"]


def start(workdir):
    log = os.path.join(workdir, "daemon.log")
    with open(log, "w") as f:
        proc = subprocess.Popen(
            [DAEMON, "--listen", "127.0.0.1:0",
             "--resolver", ENV["MTASTS_WORLD_RESOLVER"],
             "--ca-file", ENV["MTASTS_WORLD_CA"],
             "--https-port", ENV["MTASTS_WORLD_HTTPS_PORT"]], stderr=f)
    end = time.monotonic() + 10
    while time.monotonic() < end and proc.poll() is None:
        with open(log) as f:
            for line in f:
                if "listening on 127.0.0.1:" in line:
                    return proc, int(line.rsplit(":", 1)[1])
        time.sleep(0.02)
    proc.kill()
    raise RuntimeError("daemon did not start")


def postmap(confdir, key, table, stdin=None):
    p = subprocess.run([POSTMAP, "-c", confdir, "-q", key, table],
                       input=stdin, capture_output=True, text=True,
                       timeout=60, check=False)
    return p.returncode, p.stdout.strip(), p.stderr.strip()


def main():
    if POSTMAP is None or POSTCONF is None:
        print("postmap not installed (Debian: postfix): skipped")
        return 77
    check = Checks()
    with tempfile.TemporaryDirectory() as workdir:
        proc, port = start(workdir)
        try:
            confdir = os.path.join(workdir, "postfix")
            os.mkdir(confdir)
            with open(os.path.join(confdir, "main.cf"), "w") as f:
                f.write("compatibility_level = 3.6\n"
                        "smtp_tls_security_level = may\n"
                        "smtp_tls_policy_maps = "
                        f"socketmap:inet:127.0.0.1:{port}:postfix\n")
            p = subprocess.run([POSTCONF, "-c", confdir, "-h",
                                "smtp_tls_policy_maps"], capture_output=True,
                               text=True, timeout=30, check=False)
            table = p.stdout.strip()
            check("postconf reads smtp_tls_policy_maps from main.cf",
                  p.returncode == 0 and table ==
                  f"socketmap:inet:127.0.0.1:{port}:postfix",
                  p.stdout + p.stderr)
            for key, want in SECURE.items():
                rc, out, err = postmap(confdir, key, table)
                check(f"postmap -q {key}: {want}", rc == 0 and out == want,
                      f"rc={rc} out={out!r} err={err!r}")
            for key in NONE:
                rc, out, err = postmap(confdir, key, table)
                check(f"postmap -q {key}: not found", rc == 1 and out == "",
                      f"rc={rc} out={out!r} err={err!r}")
            keys = ["valid.test", "none.test", "wild.test"]
            rc, out, err = postmap(confdir, "-", table,
                                   stdin="".join(k + "\n" for k in keys))
            want = (f"valid.test\t{SECURE['valid.test']}\n"
                    f"wild.test\t{SECURE['wild.test']}")
            check("postmap -q - (three keys, one connection)",
                  rc == 0 and out == want,
                  f"rc={rc} out={out!r} err={err!r}")
        finally:
            proc.send_signal(signal.SIGTERM)
            rc = proc.wait(timeout=15)
        check("the daemon stops with exit 0", rc == 0, rc)
    return check.finish()


if __name__ == "__main__":
    sys.exit(main())
