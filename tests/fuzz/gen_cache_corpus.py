#!/usr/bin/env python3
"""Write the seed corpus of fuzz_cache_file (tests/fuzz/corpus/cache_file/).

The format is docs/cache-format.md. Standard library only; it writes the
same files each time. Usage: gen_cache_corpus.py [OUTDIR]
"""
import os
import struct
import sys
import zlib

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "corpus", "cache_file")
T0 = 1700000000
ENFORCE = b"version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 86400\n"
NONE = b"version: STSv1\r\nmode: none\r\nmax_age: 0"


def record(domain, txt_id, policy, fetched, expires, used, version=1):
    body = struct.pack(">qqqBBI", fetched, expires, used, len(domain),
                       len(txt_id), len(policy)) + domain + txt_id + policy
    head = b"MSR" + bytes([version]) + struct.pack(">I", 8 + len(body) + 4)
    data = head + body
    return data + struct.pack(">I", zlib.crc32(data))


def cache_file(records, count=None, version=1, flags=0):
    n = len(records) if count is None else count
    return (b"\x89MTSC\r\n\x1a" + struct.pack(">HHI", version, flags, n)
            + b"".join(records))


A = record(b"a.example", b"id1", ENFORCE, T0, T0 + 86400, T0)
B = record(b"b.example", b"20240101T000000", NONE, 0, 0, 0)
seeds = {
    "empty.cache": cache_file([]),
    "one.cache": cache_file([A]),
    "two.cache": cache_file([A, B]),
    "bad_magic.cache": b"\x89MTSX" + cache_file([A])[5:],
    "version_2.cache": cache_file([A], version=2),
    "flags.cache": cache_file([A], flags=1),
    "count_too_big.cache": cache_file([A], count=2),
    "truncated.cache": cache_file([A])[:-3],
    "bad_crc.cache": cache_file([A])[:-1] + b"\x00",
    "duplicate.cache": cache_file([A, A]),
    "record_version_2.cache": cache_file(
        [record(b"a.example", b"id1", ENFORCE, T0, T0 + 86400, T0, 2)]),
    "policy_invalid.cache": cache_file([record(
        b"a.example", b"id1", ENFORCE.replace(b"enforce", b"bogus"), T0,
        T0 + 86400, T0)]),
    "domain_upper.cache": cache_file(
        [record(b"A.example", b"id1", ENFORCE, T0, T0 + 86400, T0)]),
    "expiry_extended.cache": cache_file(
        [record(b"a.example", b"id1", ENFORCE, T0, T0 + 99999, T0)]),
}
os.makedirs(OUT, exist_ok=True)
for name, data in sorted(seeds.items()):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
