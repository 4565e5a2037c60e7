"""The library's stable enums, mirrored (values from mtasts.h).

``str()`` of each member is the library's own name for it (from
``mtasts_mode_name()``, ``mtasts_rpt_result_name()``,
``mtasts_verdict_name()``), the text written in policies, reports and
logs; ``repr()`` stays the Python one. The test suite checks each mirrored
value against the loaded library's names.
"""

import enum

from . import _lib
from ._lib import lib


def _lookup(cls, value):
    """``value`` as a member of ``cls``, or the int when unknown."""
    try:
        return cls(value)
    except ValueError:
        return value


class Mode(enum.IntEnum):
    """A policy's mode (mtasts_mode)."""

    NONE = 0
    TESTING = 1
    ENFORCE = 2

    def __str__(self):
        return _lib.text(lib.mtasts_mode_name(self.value))


class RptResult(enum.IntEnum):
    """An RFC 8460 result type (mtasts_rpt_result)."""

    NONE = 0
    STARTTLS_NOT_SUPPORTED = 1
    CERTIFICATE_HOST_MISMATCH = 2
    CERTIFICATE_EXPIRED = 3
    CERTIFICATE_NOT_TRUSTED = 4
    VALIDATION_FAILURE = 5
    TLSA_INVALID = 6
    DNSSEC_INVALID = 7
    DANE_REQUIRED = 8
    STS_POLICY_FETCH_ERROR = 9
    STS_POLICY_INVALID = 10
    STS_WEBPKI_INVALID = 11

    def __str__(self):
        return _lib.text(lib.mtasts_rpt_result_name(self.value))


class Verdict(enum.IntEnum):
    """What to do with a message for one MX host (mtasts_verdict)."""

    DELIVER = 0
    DELIVER_REPORT = 1
    REFUSE = 2
    DANE = 3

    def __str__(self):
        return _lib.text(lib.mtasts_verdict_name(self.value))


class RuaScheme(enum.IntEnum):
    """The scheme of a TLSRPT report destination (mtasts_rua_scheme).

    The library has no name function for it; ``str()`` gives the URI
    scheme, ``"mailto"`` or ``"https"``.
    """

    MAILTO = 1
    HTTPS = 2

    def __str__(self):
        return self.name.lower()


class PolicyWarning(enum.IntFlag):
    """Leniencies applied while parsing a policy (MTASTS_POLICY_WARN_*)."""

    MAX_AGE_CLAMPED = 0x1
    TRAILING_EMPTY_LINES = 0x2
