"""The parse layer: domain names, _mta-sts TXT records, policies, MX
patterns and _smtp._tls records. All of it is pure (no I/O) and may be
called from any thread.

Arguments that are text accept ``str`` or ``bytes``. A ``str`` is encoded
as UTF-8 so that the library itself judges any non-ASCII byte (a syntax
error in a record, MTASTS_ERR_NOT_ASCII in a domain, with its position).
Host names given to predicates and checks must be ASCII: a U-label raises
:class:`~mtasts.errors.NotAscii` (convert with ``name.encode("idna")``)
instead of silently matching nothing. A NUL byte inside a NUL-terminated
argument raises :class:`~mtasts.errors.InvalidArgument`: C would cut the
string there.
"""

import collections
import ctypes

from . import _lib, errors
from ._handle import Handle
from ._lib import lib
from .enums import Mode, PolicyWarning, RuaScheme, _lookup


def _bytes(value, what):
    """``value`` (str or bytes-like) as bytes."""
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise errors.InvalidArgument(
        errors.Status.ERR_INVALID,
        message=f"{what} must be str or bytes, not {type(value).__name__}")


def _cstr(value, what):
    """``value`` as bytes for a NUL-terminated C argument."""
    b = _bytes(value, what)
    if b"\0" in b:
        raise errors.InvalidArgument(
            errors.Status.ERR_INVALID,
            message=f"{what} contains a NUL byte")
    return b


def _host(value, what="host"):
    """A host name for a predicate or a check: ASCII, no NUL.

    The error for a non-ASCII byte is the library's own status
    (MTASTS_ERR_NOT_ASCII) with the position of the first such byte.
    """
    b = _cstr(value, what)
    for i, byte in enumerate(b):
        if byte > 0x7F:
            raise errors.NotAscii(errors.Status.ERR_NOT_ASCII, line=1,
                                  column=i + 1, offset=i)
    return b


def _records(records, what):
    """A list of records as the (char **, size_t *, n) triple of C; the
    bytes objects are returned too, to keep them alive for the call."""
    bufs = [_bytes(r, what) for r in records]
    n = len(bufs)
    ptrs = (ctypes.c_char_p * max(n, 1))(*bufs)
    lens = (ctypes.c_size_t * max(n, 1))(*[len(b) for b in bufs])
    return ptrs, lens, n, bufs


def normalize_domain(name):
    """Check a domain name and give its normal form (ASCII lower case, no
    trailing dot): ``mtasts_domain_normalize()``.

    :raises BadDomain, NotAscii: with line, column and offset
    """
    b = _bytes(name, "name")
    out = ctypes.create_string_buffer(_lib.DOMAIN_BUFSIZE)
    perr = _lib.ParseErrorStruct.new()
    errors.check(lib.mtasts_domain_normalize(b, len(b), out,
                                             ctypes.byref(perr)), perr)
    return _lib.text(out.value)


def txt_parse(record):
    """Parse one ``_mta-sts`` TXT record (its strings joined) and give its
    id (``mtasts_txt_diagnose()``).

    :raises ParseError: with the column of the offending byte
    """
    b = _bytes(record, "record")
    out = ctypes.create_string_buffer(_lib.ID_BUFSIZE)
    perr = _lib.ParseErrorStruct.new()
    errors.check(lib.mtasts_txt_diagnose(b, len(b), out,
                                         ctypes.byref(perr)), perr)
    return _lib.text(out.value)


def txt_select(records):
    """Select the policy's TXT record among all those of
    ``_mta-sts.<domain>`` (RFC 8461 §3.1, ``mtasts_txt_select()``) and
    give its id.

    :raises NoPolicy: no record, or not exactly one candidate
    :raises ParseError: the one candidate is invalid (no position: the C
        call takes no ``mtasts_parse_error``; use :func:`txt_parse` on it)
    """
    ptrs, lens, n, keep = _records(records, "record")
    out = ctypes.create_string_buffer(_lib.ID_BUFSIZE)
    rc = lib.mtasts_txt_select(ptrs, lens, n, out)
    del keep
    errors.check(rc)
    return _lib.text(out.value)


def mx_pattern_match(pattern, host):
    """Whether ``host`` matches one policy mx pattern (RFC 8461 §4.1).

    A pattern or a host that does not fit its grammar matches nothing.
    :raises NotAscii: host has a non-ASCII byte
    """
    return bool(lib.mtasts_mx_pattern_match(_cstr(pattern, "pattern"),
                                            _host(host)))


class Policy(Handle):
    """A parsed MTA-STS policy: immutable, wrapping one reference to the
    library's refcounted ``mtasts_policy``.

    The reference is dropped by :meth:`close`, by leaving a ``with`` block,
    or when the object is garbage collected. Any number of threads may read
    one policy at once; closing it while another thread uses it is a bug
    in the caller.
    """

    __slots__ = ()
    _what = "policy"
    _release = staticmethod(lib.mtasts_policy_unref)

    def __init__(self, text):
        """Parse a policy body (``mtasts_policy_parse()``).

        :param text: the policy, str or bytes
        :raises ParseError: with line, column and offset
        :raises TooLarge: longer than 64 KiB
        """
        self._ptr = None
        b = _bytes(text, "text")
        out = ctypes.c_void_p()
        perr = _lib.ParseErrorStruct.new()
        errors.check(lib.mtasts_policy_parse(b, len(b), ctypes.byref(out),
                                             ctypes.byref(perr)), perr)
        self._ptr = out.value

    @classmethod
    def _borrow(cls, ptr):
        """A Policy holding a new reference to a policy the library lent
        (e.g. a result's): the borrowed pointer itself is never kept."""
        self = cls.__new__(cls)
        self._ptr = lib.mtasts_policy_ref(ptr)
        return self

    @property
    def mode(self):
        """The mode, a :class:`Mode`."""
        return _lookup(Mode, lib.mtasts_policy_mode(self._handle()))

    @property
    def max_age(self):
        """max_age in seconds, after clamping to 31557600."""
        return lib.mtasts_policy_max_age(self._handle())

    @property
    def mx(self):
        """The mx patterns in policy order, lower case, as a tuple of str."""
        p = self._handle()
        return tuple(_lib.text(lib.mtasts_policy_mx(p, i))
                     for i in range(lib.mtasts_policy_mx_count(p)))

    @property
    def raw(self):
        """The policy text exactly as parsed, as bytes."""
        n = ctypes.c_size_t()
        ptr = lib.mtasts_policy_text(self._handle(), ctypes.byref(n))
        return ctypes.string_at(ptr, n.value)

    @property
    def text(self):
        """The policy text as str (UTF-8; the parser checked it)."""
        return self.raw.decode("utf-8", "surrogateescape")

    @property
    def warnings(self):
        """Leniencies applied while parsing, a :class:`PolicyWarning`."""
        return PolicyWarning(lib.mtasts_policy_warnings(self._handle()))

    def match_mx(self, host):
        """Whether an MX host matches one of the mx patterns (§4.1).

        :raises NotAscii: host has a non-ASCII byte
        """
        return bool(lib.mtasts_policy_match_mx(self._handle(), _host(host)))

    def __repr__(self):
        if self._ptr is None:
            return "<mtasts.Policy closed>"
        return (f"<mtasts.Policy mode={self.mode} max_age={self.max_age} "
                f"mx={list(self.mx)}>")


def parse_policy(text):
    """Parse a policy body: the same as ``Policy(text)``."""
    return Policy(text)


Rua = collections.namedtuple("Rua", "uri scheme")
Rua.__doc__ = """A TLSRPT report destination: the URI as published and its
:class:`RuaScheme`."""


class TlsRpt(collections.namedtuple("TlsRpt", "rua")):
    """A parsed ``_smtp._tls`` record: ``rua`` is a tuple of :class:`Rua`
    in record order. The C record is copied and freed at once."""

    __slots__ = ()

    def uris(self, scheme=None):
        """The destination URIs, all or those of one scheme."""
        return [r.uri for r in self.rua if scheme is None or r.scheme == scheme]


def _tlsrpt_copy(ptr):
    try:
        return TlsRpt(tuple(
            Rua(_lib.text(lib.mtasts_tlsrpt_rua(ptr, i)),
                _lookup(RuaScheme, lib.mtasts_tlsrpt_rua_scheme(ptr, i)))
            for i in range(lib.mtasts_tlsrpt_rua_count(ptr))))
    finally:
        lib.mtasts_tlsrpt_free(ptr)


def tlsrpt_parse(record):
    """Parse one ``_smtp._tls`` TXT record (RFC 8460 §3).

    :raises ParseError: with line, column and offset
    :raises NoTlsRpt: valid, but no mailto: or https: destination
    """
    b = _bytes(record, "record")
    out = ctypes.c_void_p()
    perr = _lib.ParseErrorStruct.new()
    errors.check(lib.mtasts_tlsrpt_parse(b, len(b), ctypes.byref(out),
                                         ctypes.byref(perr)), perr)
    return _tlsrpt_copy(out.value)


def tlsrpt_select(records):
    """Select and parse the TLSRPT record among all the TXT records of a
    ``_smtp._tls`` name.

    :raises NoTlsRpt: no record, or not exactly one TLSRPT record
    :raises ParseError: the one record is invalid
    """
    ptrs, lens, n, keep = _records(records, "record")
    out = ctypes.c_void_p()
    perr = _lib.ParseErrorStruct.new()
    rc = lib.mtasts_tlsrpt_select(ptrs, lens, n, ctypes.byref(out),
                                  ctypes.byref(perr))
    del keep
    errors.check(rc, perr)
    return _tlsrpt_copy(out.value)
