"""Status codes and the exception hierarchy.

Every exception the binding raises for a library status is an
:class:`MtaStsError` carrying ``status`` (the C int), ``name`` (the
enumerator's name from ``mtasts_status_name()``) and ``message`` (the
library's sentence: the parse error's message when there is one, else
``mtasts_strerror()``). The subclass says what kind of failure it is::

    MtaStsError
    +-- UsageError                      misuse of the API
    |   +-- InvalidArgument (ValueError)    MTASTS_ERR_INVALID
    |   +-- StateError                      MTASTS_ERR_STATE
    +-- NoMemory (MemoryError)          MTASTS_ERR_NOMEM
    +-- LocalIOError                    MTASTS_ERR_IO
    +-- InputError (ValueError)         the input itself is bad; has
    |   |                               line, column, offset (0: none)
    |   +-- ParseError                      MTASTS_ERR_SYNTAX
    |   +-- TooLarge                        MTASTS_ERR_TOO_LARGE
    |   +-- BadDomain                       MTASTS_ERR_BAD_DOMAIN
    |   +-- NotAscii                        MTASTS_ERR_NOT_ASCII
    +-- DiscoveryError                  a lookup's outcome
    |   +-- NoPolicy                        MTASTS_ERR_NO_POLICY
    |   +-- DnsTempFail                     MTASTS_ERR_DNS_TEMPFAIL
    |   +-- FetchError                      MTASTS_ERR_FETCH
    |       +-- WebPkiError                 MTASTS_ERR_WEBPKI
    |       +-- PolicyInvalid               MTASTS_ERR_POLICY_INVALID
    +-- ProbeError                      an MX probe ended before STARTTLS
    |   +-- ConnectError                    MTASTS_ERR_CONNECT
    |   +-- ProbeTimeout                    MTASTS_ERR_TIMEOUT
    |   +-- ProtocolError                   MTASTS_ERR_PROTOCOL
    +-- CacheError                      the policy cache
    |   +-- NotFound                        MTASTS_ERR_NOT_FOUND
    |   +-- CacheFormat                     MTASTS_ERR_CACHE_FORMAT (offset)
    |   +-- CacheCorrupt                    MTASTS_ERR_CACHE_CORRUPT (offset)
    |   +-- StoreError                      MTASTS_ERR_STORE
    +-- ReportError                     TLS reporting
        +-- NoTlsRpt                        MTASTS_ERR_NO_TLSRPT
        +-- NoData                          MTASTS_ERR_NO_DATA
        +-- ReportFull                      MTASTS_ERR_FULL
        +-- ReportFileError                 MTASTS_ERR_REPORT_FILE (offset)

A status this binding does not know (a newer library) raises a plain
:class:`MtaStsError`. ``WebPkiError`` and ``PolicyInvalid`` derive from
``FetchError`` because RFC 8461 §3.3 treats the three alike: the policy
could not be had, deliver as without MTA-STS.

Classes are tested with the library's own predicates
(``is_temporary``, ``is_bad_input``), never with range arithmetic.
"""

import enum

from . import _lib
from ._lib import lib


class Status(enum.IntEnum):
    """The library's status codes (mtasts.h ``mtasts_status``; stable)."""

    OK = 0
    ERR_INVALID = -1
    ERR_NOMEM = -2
    ERR_STATE = -3
    ERR_IO = -4
    ERR_SYNTAX = -100
    ERR_TOO_LARGE = -101
    ERR_BAD_DOMAIN = -102
    ERR_NOT_ASCII = -103
    ERR_NO_POLICY = -200
    ERR_DNS_TEMPFAIL = -201
    ERR_FETCH = -202
    ERR_WEBPKI = -203
    ERR_POLICY_INVALID = -204
    ERR_CONNECT = -300
    ERR_TIMEOUT = -301
    ERR_PROTOCOL = -302
    ERR_NOT_FOUND = -400
    ERR_CACHE_FORMAT = -401
    ERR_CACHE_CORRUPT = -402
    ERR_STORE = -403
    ERR_NO_TLSRPT = -500
    ERR_NO_DATA = -501
    ERR_FULL = -502
    ERR_REPORT_FILE = -503

    @property
    def label(self):
        """The C enumerator's name, e.g. ``"MTASTS_ERR_SYNTAX"``."""
        return status_name(self)


def status(value):
    """``value`` as a :class:`Status` when the binding knows it, else the
    int unchanged (a newer library may return new codes)."""
    try:
        return Status(value)
    except ValueError:
        return value


def status_name(value):
    """``mtasts_status_name()``: e.g. ``"MTASTS_ERR_SYNTAX"``."""
    return _lib.text(lib.mtasts_status_name(int(value)))


def strerror(value):
    """``mtasts_strerror()``: a short English description."""
    return _lib.text(lib.mtasts_strerror(int(value)))


def is_temporary(value):
    """``mtasts_status_is_temporary()``: the same call may succeed later."""
    return bool(lib.mtasts_status_is_temporary(int(value)))


def is_bad_input(value):
    """``mtasts_status_is_bad_input()``: the input itself is bad."""
    return bool(lib.mtasts_status_is_bad_input(int(value)))


class MtaStsError(Exception):
    """A libmtasts status other than MTASTS_OK.

    :ivar status: the status (a :class:`Status`, or an int if unknown)
    :ivar name: the C name, e.g. ``"MTASTS_ERR_FETCH"``
    :ivar message: the library's description of this failure
    """

    def __init__(self, status_value, name=None, message=None):
        self.status = status(status_value)
        self.name = name if name is not None else status_name(status_value)
        self.message = (message if message is not None
                        else strerror(status_value))
        super().__init__(self.status, self.name, self.message)

    @property
    def is_temporary(self):
        """Whether the same call made later may give another outcome."""
        return is_temporary(self.status)

    @property
    def is_bad_input(self):
        """Whether the input itself is bad (retrying cannot help)."""
        return is_bad_input(self.status)

    def __str__(self):
        return f"{self.name}: {self.message}"


class UsageError(MtaStsError):
    """The API was misused."""


class InvalidArgument(UsageError, ValueError):
    """MTASTS_ERR_INVALID: a NULL or out-of-range argument. The binding
    also raises it for what C cannot even receive: a NUL byte inside a
    string, a closed handle, a value of the wrong type."""


class StateError(UsageError):
    """MTASTS_ERR_STATE: a call not valid now."""


class NoMemory(MtaStsError, MemoryError):
    """MTASTS_ERR_NOMEM: the library could not allocate memory."""


class LocalIOError(MtaStsError):
    """MTASTS_ERR_IO: a file (e.g. a CA bundle) could not be read, or the
    TLS client could not be set up on this machine."""


class _Positioned:
    """Where in its input a failure is: ``line`` and ``column`` 1-based
    (column counts bytes), ``offset`` the 0-based byte offset; all three 0
    when the library gave no position. Files without lines (the cache
    file, the report store file) give the offset alone."""

    def __init__(self, status_value, name=None, message=None, line=0,
                 column=0, offset=0):
        super().__init__(status_value, name, message)
        self.line = line
        self.column = column
        self.offset = offset

    def __str__(self):
        if self.line:
            return (f"{self.name}: line {self.line}, column {self.column}: "
                    f"{self.message}")
        if self.offset:
            return f"{self.name}: offset {self.offset}: {self.message}"
        return super().__str__()


class InputError(_Positioned, MtaStsError, ValueError):
    """The input itself is bad. When the library said where, ``line`` and
    ``column`` are 1-based (column counts bytes) and ``offset`` is the
    0-based byte offset; all three are 0 when there is no position."""


class ParseError(InputError):
    """MTASTS_ERR_SYNTAX: the input does not fit its grammar."""


class TooLarge(InputError):
    """MTASTS_ERR_TOO_LARGE: the input is longer than its limit."""


class BadDomain(InputError):
    """MTASTS_ERR_BAD_DOMAIN: not a valid host name."""


class NotAscii(InputError):
    """MTASTS_ERR_NOT_ASCII: a non-ASCII domain name; convert U-labels to
    A-labels first, e.g. ``name.encode("idna")``."""


class DiscoveryError(MtaStsError):
    """A lookup ended without a policy to apply."""


class NoPolicy(DiscoveryError):
    """MTASTS_ERR_NO_POLICY: the domain has no MTA-STS policy."""


class DnsTempFail(DiscoveryError):
    """MTASTS_ERR_DNS_TEMPFAIL: DNS failed and nothing was cached."""


class FetchError(DiscoveryError):
    """MTASTS_ERR_FETCH: the policy could not be fetched, nothing cached."""


class WebPkiError(FetchError):
    """MTASTS_ERR_WEBPKI: the policy host's certificate is not valid."""


class PolicyInvalid(FetchError):
    """MTASTS_ERR_POLICY_INVALID: the fetched policy does not parse."""


class ProbeError(MtaStsError):
    """An MX probe ended before STARTTLS (no MTA-STS failure)."""


class ConnectError(ProbeError):
    """MTASTS_ERR_CONNECT: no TCP connection to the MX."""


class ProbeTimeout(ProbeError):
    """MTASTS_ERR_TIMEOUT: the MX stopped answering mid-session."""


class ProtocolError(ProbeError):
    """MTASTS_ERR_PROTOCOL: the MX's replies are not SMTP."""


class CacheError(MtaStsError):
    """The policy cache: its file, its entries, its store."""


class NotFound(CacheError):
    """MTASTS_ERR_NOT_FOUND: no cache entry for the domain, or no file."""


class CacheFormat(_Positioned, CacheError):
    """MTASTS_ERR_CACHE_FORMAT: not a cache file of a known version.
    ``offset`` is the byte offset of the fault in the file."""


class CacheCorrupt(_Positioned, CacheError):
    """MTASTS_ERR_CACHE_CORRUPT: a damaged or hostile cache file (or store
    value). ``offset`` is the byte offset of the fault in the file."""


class StoreError(CacheError):
    """MTASTS_ERR_STORE: the second-level store failed."""


class ReportError(MtaStsError):
    """TLS reporting (RFC 8460)."""


class NoTlsRpt(ReportError):
    """MTASTS_ERR_NO_TLSRPT: no usable _smtp._tls record."""


class NoData(ReportError):
    """MTASTS_ERR_NO_DATA: nothing recorded for that domain and day."""


class ReportFull(ReportError):
    """MTASTS_ERR_FULL: the report store is at its bound."""


class ReportFileError(_Positioned, ReportError):
    """MTASTS_ERR_REPORT_FILE: not a report store file, or damaged.
    ``offset`` is the byte offset of the fault in the file."""


_CLASSES = {
    Status.ERR_INVALID: InvalidArgument,
    Status.ERR_NOMEM: NoMemory,
    Status.ERR_STATE: StateError,
    Status.ERR_IO: LocalIOError,
    Status.ERR_SYNTAX: ParseError,
    Status.ERR_TOO_LARGE: TooLarge,
    Status.ERR_BAD_DOMAIN: BadDomain,
    Status.ERR_NOT_ASCII: NotAscii,
    Status.ERR_NO_POLICY: NoPolicy,
    Status.ERR_DNS_TEMPFAIL: DnsTempFail,
    Status.ERR_FETCH: FetchError,
    Status.ERR_WEBPKI: WebPkiError,
    Status.ERR_POLICY_INVALID: PolicyInvalid,
    Status.ERR_CONNECT: ConnectError,
    Status.ERR_TIMEOUT: ProbeTimeout,
    Status.ERR_PROTOCOL: ProtocolError,
    Status.ERR_NOT_FOUND: NotFound,
    Status.ERR_CACHE_FORMAT: CacheFormat,
    Status.ERR_CACHE_CORRUPT: CacheCorrupt,
    Status.ERR_STORE: StoreError,
    Status.ERR_NO_TLSRPT: NoTlsRpt,
    Status.ERR_NO_DATA: NoData,
    Status.ERR_FULL: ReportFull,
    Status.ERR_REPORT_FILE: ReportFileError,
}


def error_class(status_value):
    """The exception class for a status (MtaStsError if unknown)."""
    return _CLASSES.get(status(status_value), MtaStsError)


def error(status_value, perr=None, message=None):
    """The exception for a non-OK status, not raised.

    :param perr: a :class:`_lib.ParseErrorStruct` the call filled, or None
    :param message: a message of the binding's own, replacing strerror
    """
    cls = error_class(status_value)
    if perr is not None and perr.message:
        message = _lib.text(perr.message)
    if issubclass(cls, _Positioned) and perr is not None:
        return cls(status_value, None, message, perr.line, perr.column,
                   perr.offset)
    return cls(status_value, None, message)


def check(rc, perr=None):
    """Raise the exception for ``rc`` unless it is MTASTS_OK."""
    if rc != 0:
        raise error(rc, perr)
