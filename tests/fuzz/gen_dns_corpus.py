#!/usr/bin/env python3
"""Write the seed corpus of fuzz_dns_reply: DNS replies as a resolver sends
them (RFC 1035 §4.1), one message per file, into corpus/dns_reply/.

    python3 tests/fuzz/gen_dns_corpus.py [OUTDIR]

Standard library only; the output is the same on every run, so the files
are kept in git and this script regenerates them after a change. The fuzz
target takes the id from the first two bytes and the question from the
question section (see fuzz_dns_reply.c), so each seed answers its own
question unless it is meant not to.
"""
import os
import struct
import sys

TXT, A, AAAA, CNAME, SOA, OPT = 16, 1, 28, 5, 6, 41
IN, CH = 1, 3
NOERROR, FORMERR, SERVFAIL, NXDOMAIN, REFUSED = 0, 1, 2, 3, 5
HEADER = 12


def name(text):
    """A name in wire form, uncompressed."""
    out = b""
    for label in text.rstrip(".").split("."):
        raw = label.encode("ascii")
        out += bytes([len(raw)]) + raw
    return out + b"\x00"


def ptr(offset):
    """A compression pointer (RFC 1035 §4.1.4)."""
    return struct.pack(">H", 0xC000 | offset)


def txt_rdata(*strings):
    out = b""
    for s in strings:
        raw = s.encode("ascii") if isinstance(s, str) else s
        out += bytes([len(raw)]) + raw
    return out


def rr(owner, rtype, rdata, rclass=IN, ttl=300):
    if isinstance(owner, str):
        owner = name(owner)
    return owner + struct.pack(">HHIH", rtype, rclass, ttl, len(rdata)) + rdata


def soa(zone):
    rdata = (name("ns." + zone) + name("hostmaster." + zone)
             + struct.pack(">IIIII", 2024010101, 3600, 600, 86400, 300))
    return rr(zone, SOA, rdata)


def opt(udp=1232):
    return b"\x00" + struct.pack(">HHIH", OPT, udp, 0, 0)


def message(qname, qtype, answer=(), authority=(), additional=(),
            rcode=NOERROR, msg_id=0x4D54, qr=True, opcode=0, aa=False,
            tc=False, rd=True, ra=True, qclass=IN, questions=None):
    flags = ((qr << 15) | (opcode << 11) | (aa << 10) | (tc << 9)
             | (rd << 8) | (ra << 7) | rcode)
    if questions is None:
        questions = [] if qname is None else [
            (name(qname) if isinstance(qname, str) else qname)
            + struct.pack(">HH", qtype, qclass)]
    head = struct.pack(">HHHHHH", msg_id, flags, len(questions), len(answer),
                       len(authority), len(additional))
    return (head + b"".join(questions) + b"".join(answer)
            + b"".join(authority) + b"".join(additional))


Q = "_mta-sts.example.com"
QP = ptr(HEADER)  # the question name, as every answer refers to it
STS = "v=STSv1; id=20190429T010101;"


def seeds():
    s = {}
    # TXT answers (R8461-3.1-b, R8461-3.1-c)
    s["txt_answer"] = message(Q, TXT, [rr(QP, TXT, txt_rdata(STS))],
                              additional=[opt()])
    s["txt_split_strings"] = message(Q, TXT, [
        rr(QP, TXT, txt_rdata("v=STSv1; id=", "2016083108"))])
    s["txt_split_mid_token"] = message(Q, TXT, [
        rr(QP, TXT, txt_rdata("v=STS", "v1; id=1"))])
    s["txt_empty_string"] = message(Q, TXT, [
        rr(QP, TXT, txt_rdata("", "v=STSv1; id=2", ""))])
    s["txt_long_strings"] = message(Q, TXT, [
        rr(QP, TXT, txt_rdata("v=STSv1; id=3; x=" + "a" * 238, "b" * 255))])
    s["txt_owner_mixed_case"] = message(Q, TXT, [
        rr("_MTA-STS.Example.COM", TXT, txt_rdata(STS))])
    s["txt_class_chaos"] = message(Q, TXT, [
        rr(QP, TXT, txt_rdata(STS), rclass=CH)])
    # CNAME chains (R8461-3.1-m)
    user, prov = "_mta-sts.user.example", "_mta-sts.provider.example"
    s["cname_then_txt"] = message(user, TXT, [
        rr(QP, CNAME, name(prov)),
        rr(prov, TXT, txt_rdata("v=STSv1; id=p1"))])
    hop = "_mta-sts.chain-hop.example"
    s["cname_chain_two"] = message(user, TXT, [
        rr(QP, CNAME, name(hop)),
        rr(hop, CNAME, name(prov)),
        rr(prov, TXT, txt_rdata("v=STSv1; id=p2"))])
    # the target's name ends in a pointer to the question's "example.com"
    s["cname_compressed_target"] = message(Q, TXT, [
        rr(QP, CNAME, b"\x08_mta-sts\x03cdn" + ptr(HEADER + 9)),
        rr("_mta-sts.cdn.example.com", TXT, txt_rdata(STS))])
    s["cname_dangling"] = message(user, TXT, [rr(QP, CNAME, name(prov))])
    s["cname_nxdomain"] = message(user, TXT, [rr(QP, CNAME, name(prov))],
                                  [soa("provider.example")], rcode=NXDOMAIN)
    loop = "_mta-sts.loop-back.example"
    s["cname_loop"] = message(Q, TXT, [rr(QP, CNAME, name(loop)),
                                       rr(loop, CNAME, name(Q))])
    hops = ["_mta-sts.h%d.example" % i for i in range(1, 10)]
    chain = [rr(QP, CNAME, name(hops[0]))]
    chain += [rr(hops[i], CNAME, name(hops[i + 1])) for i in range(8)]
    s["cname_chain_too_long"] = message(Q, TXT, chain
                                        + [rr(hops[8], TXT, txt_rdata(STS))])
    s["cname_chain_eight_hops"] = message(Q, TXT, chain[:8] + [
        rr(hops[7], TXT, txt_rdata(STS))])
    # no record
    s["nxdomain"] = message(Q, TXT, authority=[soa("example.com")],
                            rcode=NXDOMAIN, aa=True)
    s["nodata"] = message(Q, TXT, authority=[soa("example.com")])
    # replies that give no answer
    s["truncated_partial"] = message(Q, TXT, [
        rr(QP, TXT, txt_rdata(STS))], tc=True)
    s["servfail"] = message(Q, TXT, rcode=SERVFAIL)
    s["formerr_no_question"] = message(None, TXT, rcode=FORMERR)
    s["not_a_response"] = message(Q, TXT, [rr(QP, TXT, txt_rdata(STS))],
                                  qr=False)
    s["two_questions"] = message(None, TXT, questions=[
        name(Q) + struct.pack(">HH", TXT, IN),
        name("example.com") + struct.pack(">HH", TXT, IN)])
    s["question_name_not_plain"] = message("_mta-sts.ex ample.com", TXT, [
        rr(QP, TXT, txt_rdata(STS))])
    s["cut_in_answer"] = message(Q, TXT, [rr(QP, TXT, txt_rdata(STS))])[:45]
    # compression pointers that go wrong
    s["pointer_loop"] = message(Q, TXT, [
        rr(ptr(HEADER + len(name(Q)) + 4), TXT, txt_rdata(STS))])
    s["pointer_past_end"] = message(Q, TXT, [rr(ptr(0x3FFF), TXT,
                                                 txt_rdata(STS))])
    # addresses of the policy host
    host = "mta-sts.example.com"
    s["a_answer"] = message(host, A, [rr(QP, A, bytes([192, 0, 2, 10])),
                                      rr(QP, A, bytes([192, 0, 2, 11]))])
    s["aaaa_answer"] = message(host, AAAA, [
        rr(QP, AAAA, bytes.fromhex("20010db8000000000000000000000010"))])
    s["aaaa_via_cname"] = message(host, AAAA, [
        rr(QP, CNAME, name("web.provider.example")),
        rr("web.provider.example", AAAA,
           bytes.fromhex("20010db8000000000000000000000020"))])
    s["a_short_rdata"] = message(host, A, [rr(QP, A, bytes([192, 0, 2]))])
    # found by the fuzzer: ldns reads RDLENGTH 0 as a record without data
    s["crash_a_empty_rdata"] = message(host, A, [
        rr(QP, A, bytes([192, 0, 2, 10])), rr(QP, A, b"")])
    return s


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        here, "corpus", "dns_reply")
    os.makedirs(out, exist_ok=True)
    for key, data in sorted(seeds().items()):
        with open(os.path.join(out, key + ".dns"), "wb") as f:
            f.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
