"""mtasts: a Python binding of libmtasts (SMTP MTA-STS, RFC 8461, and the
TLSRPT record of RFC 8460) over its C ABI, with ctypes and the standard
library only.

    >>> import mtasts
    >>> p = mtasts.Policy(b"version: STSv1\\nmode: enforce\\n"
    ...                   b"mx: *.example.net\\nmax_age: 86400\\n")
    >>> str(p.mode), p.match_mx("mx1.example.net")
    ('enforce', True)
    >>> str(mtasts.decide(p, "mx1.example.net",
    ...                   mtasts.RptResult.CERTIFICATE_EXPIRED))
    'refuse'

The shared library is loaded at import: the path in MTASTS_LIBRARY, else
what ctypes.util.find_library("mtasts") finds, else libmtasts.so.1.
See README.md beside this package for errors and threads.
"""

from . import _lib
from .context import CacheEntry, Context, LookupResult, MxCheck, decide
from .enums import Mode, PolicyWarning, RptResult, RuaScheme, Verdict
from .errors import (BadDomain, CacheCorrupt, CacheError, CacheFormat,
                     ConnectError, DiscoveryError, DnsTempFail, FetchError,
                     InputError, InvalidArgument, LocalIOError, MtaStsError,
                     NoData, NoMemory, NoPolicy, NotAscii, NotFound,
                     NoTlsRpt, ParseError, PolicyInvalid, ProbeError,
                     ProbeTimeout, ProtocolError, ReportError,
                     ReportFileError, ReportFull, StateError, Status,
                     StoreError, TooLarge, UsageError, WebPkiError,
                     is_bad_input, is_temporary, status_name, strerror)
from .parse import (Policy, Rua, TlsRpt, mx_pattern_match, normalize_domain,
                    parse_policy, tlsrpt_parse, tlsrpt_select, txt_parse,
                    txt_select)
from .report import PostResult, retry_next, send_time

#: The largest policy body the library accepts (MTASTS_POLICY_MAX).
POLICY_MAX = 65536
#: The largest max_age kept (MTASTS_MAX_AGE_MAX, RFC 8461 §3.2).
MAX_AGE_MAX = 31557600
#: The largest value a store hook may return (MTASTS_STORE_VALUE_MAX).
STORE_VALUE_MAX = _lib.STORE_VALUE_MAX


def version():
    """The loaded library's version as a (major, minor, patch) tuple."""
    v = _lib.lib.mtasts_version()
    return (v >> 16 & 0xFF, v >> 8 & 0xFF, v & 0xFF)


def version_string():
    """The loaded library's version as text, e.g. "1.0.0"."""
    return _lib.text(_lib.lib.mtasts_version_string())


#: The path or name the library was loaded from.
library_path = _lib.lib._name

__all__ = [
    "CacheCorrupt", "CacheError", "CacheFormat", "NoData", "NotFound",
    "ReportError", "ReportFileError", "ReportFull", "StoreError",
    "BadDomain", "CacheEntry", "ConnectError", "Context", "DiscoveryError",
    "DnsTempFail",
    "FetchError", "InputError", "InvalidArgument", "LocalIOError",
    "LookupResult", "MAX_AGE_MAX", "Mode", "MtaStsError", "MxCheck",
    "NoMemory", "NoPolicy", "NoTlsRpt", "NotAscii", "POLICY_MAX",
    "ParseError", "Policy", "PolicyInvalid", "PolicyWarning", "PostResult",
    "ProbeError",
    "ProbeTimeout", "ProtocolError", "RptResult", "Rua", "RuaScheme",
    "STORE_VALUE_MAX", "StateError", "Status", "TlsRpt", "TooLarge",
    "UsageError", "Verdict",
    "WebPkiError", "decide", "is_bad_input", "is_temporary",
    "library_path", "mx_pattern_match", "normalize_domain", "parse_policy",
    "retry_next", "send_time", "strerror", "status_name", "tlsrpt_parse", "tlsrpt_select",
    "txt_parse", "txt_select", "version", "version_string",
]
