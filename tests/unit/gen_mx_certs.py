#!/usr/bin/python3
"""Make the certificates of the MX verification tests.

    gen_mx_certs.py --out DIR           write them into DIR (which exists)
    gen_mx_certs.py PROGRAM [ARGS...]   into a temporary directory, then run
                                        PROGRAM with MTASTS_MX_CERTS set to it

Generates a test PKI around a fixed reference time (NOW below, which the
tests give the library as its clock). Each certificate is written as
NAME.der; the trust store the tests load is ca.pem (the RSA and the ECDSA
test roots, nothing else). tests/unit/check_mxverify.c calls the --out form
itself (so that a test wrapper such as valgrind wraps the test, not
Python); the benchmark uses the second form.

Needs the Debian package python3-cryptography (run with /usr/bin/python3:
the python3 first on PATH may not see Debian's packages).

What is made (every leaf is for mx.example.com unless said otherwise):

  root, ec_root        trusted roots (RSA-2048, ECDSA P-256)
  int, ec_int          intermediates under them
  int_expired          an intermediate of root, expired at NOW - 1 day
  unknown_root         a root that is not in ca.pem
  rsa_ok, ec_ok        valid leaves (RSA-2048 under int, P-256 under ec_int)
  wildcard             SAN *.example.com
  wildcard_partial     SAN mx*.example.com (partial label: never matches)
  wildcard_inner       SAN mx.*.com (not leftmost: never matches)
  cn_only              no SAN, CN=mx.example.com
  ip_only              SAN IP 192.0.2.25 only, CN=mx.example.com
  wrong_name           SAN other.example.net
  domain_only          SAN example.com (the recipient domain, not the MX)
  multi_san            SANs other.example, MX.EXAMPLE.COM
  expired              valid until NOW - 1 day
  not_yet_valid        valid from NOW + 1 day
  under_int_expired    a valid leaf under int_expired
  unknown_ca           a valid-looking leaf under unknown_root
  self_signed          a self-signed leaf
  client_only          extendedKeyUsage clientAuth only
"""

import datetime
import ipaddress
import os
import shutil
import subprocess
import sys
import tempfile

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# 2026-01-01T00:00:00Z; tests/unit/check_mxverify.c uses the same value.
NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
DAY = datetime.timedelta(days=1)
MX = "mx.example.com"


def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def ec_key():
    return ec.generate_private_key(ec.SECP256R1())


def name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make(subject_cn, key, issuer_cert, issuer_key, *, ca=False, sans=None,
         ips=None, not_before=None, not_after=None, eku=None):
    """One certificate; issuer_cert None makes it self-signed."""
    not_before = not_before or NOW - 30 * DAY
    not_after = not_after or NOW + 365 * DAY
    issuer = issuer_cert.subject if issuer_cert is not None else name(subject_cn)
    b = (x509.CertificateBuilder()
         .subject_name(name(subject_cn))
         .issuer_name(issuer)
         .public_key(key.public_key())
         .serial_number(x509.random_serial_number())
         .not_valid_before(not_before)
         .not_valid_after(not_after)
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None),
                        critical=True))
    if ca:
        b = b.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False,
            key_encipherment=False, data_encipherment=False,
            key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
    general = [x509.DNSName(s) for s in (sans or [])]
    general += [x509.IPAddress(ipaddress.ip_address(a))
                for a in (ips or [])]
    if general:
        b = b.add_extension(x509.SubjectAlternativeName(general),
                            critical=False)
    if eku is not None:
        b = b.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    elif not ca:
        b = b.add_extension(x509.ExtendedKeyUsage(
            [ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    signer = issuer_key if issuer_key is not None else key
    return b.sign(signer, hashes.SHA256())


def generate(out):
    certs = {}
    root_key, ec_root_key = rsa_key(), ec_key()
    certs["root"] = make("Test Root", root_key, None, None, ca=True,
                         not_before=NOW - 3650 * DAY,
                         not_after=NOW + 7300 * DAY)
    certs["ec_root"] = make("Test EC Root", ec_root_key, None, None, ca=True,
                            not_before=NOW - 3650 * DAY,
                            not_after=NOW + 7300 * DAY)
    int_key, ec_int_key = rsa_key(), ec_key()
    certs["int"] = make("Test Intermediate", int_key, certs["root"], root_key,
                        ca=True)
    certs["ec_int"] = make("Test EC Intermediate", ec_int_key,
                           certs["ec_root"], ec_root_key, ca=True)
    old_int_key = rsa_key()
    certs["int_expired"] = make("Test Old Intermediate", old_int_key,
                                certs["root"], root_key, ca=True,
                                not_before=NOW - 400 * DAY,
                                not_after=NOW - DAY)
    unknown_key = rsa_key()
    certs["unknown_root"] = make("Unknown Root", unknown_key, None, None,
                                 ca=True)

    leaf_key, ec_leaf_key = rsa_key(), ec_key()

    def leaf(cn=MX, **kw):
        return make(cn, leaf_key, certs["int"], int_key, **kw)

    certs["rsa_ok"] = leaf(sans=[MX])
    certs["ec_ok"] = make(MX, ec_leaf_key, certs["ec_int"], ec_int_key,
                          sans=[MX])
    certs["wildcard"] = leaf("*.example.com", sans=["*.example.com"])
    certs["wildcard_partial"] = leaf("mx*.example.com",
                                     sans=["mx*.example.com"])
    certs["wildcard_inner"] = leaf("mx.*.com", sans=["mx.*.com"])
    certs["cn_only"] = leaf()
    certs["ip_only"] = leaf(ips=["192.0.2.25"])
    certs["wrong_name"] = leaf("other.example.net",
                               sans=["other.example.net"])
    certs["domain_only"] = leaf("example.com", sans=["example.com"])
    certs["multi_san"] = leaf(sans=["other.example", "MX.EXAMPLE.COM"])
    certs["expired"] = leaf(sans=[MX], not_before=NOW - 400 * DAY,
                            not_after=NOW - DAY)
    certs["not_yet_valid"] = leaf(sans=[MX], not_before=NOW + DAY,
                                  not_after=NOW + 400 * DAY)
    certs["under_int_expired"] = make(MX, leaf_key, certs["int_expired"],
                                      old_int_key, sans=[MX])
    certs["unknown_ca"] = make(MX, leaf_key, certs["unknown_root"],
                               unknown_key, sans=[MX])
    certs["self_signed"] = make(MX, leaf_key, None, None, sans=[MX])
    certs["client_only"] = leaf(sans=[MX],
                                eku=[ExtendedKeyUsageOID.CLIENT_AUTH])

    for n, c in certs.items():
        with open(os.path.join(out, n + ".der"), "wb") as f:
            f.write(c.public_bytes(serialization.Encoding.DER))
    with open(os.path.join(out, "ca.pem"), "wb") as f:
        for n in ("root", "ec_root"):
            f.write(certs[n].public_bytes(serialization.Encoding.PEM))


def main():
    if len(sys.argv) < 2:
        sys.stderr.write(__doc__)
        return 64
    if sys.argv[1] == "--out":
        if len(sys.argv) != 3 or not os.path.isdir(sys.argv[2]):
            sys.stderr.write(__doc__)
            return 64
        generate(sys.argv[2])
        return 0
    out = tempfile.mkdtemp(prefix="mtasts-mx-certs.")
    try:
        generate(out)
        env = dict(os.environ, MTASTS_MX_CERTS=out)
        return subprocess.call(sys.argv[1:], env=env)
    finally:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
