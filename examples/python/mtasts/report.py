"""TLS reports (RFC 8460): the outcome of a POST to an https: rua, and the
pure schedule helpers (when to send, when to retry). The calls that need a
context are methods of :class:`~mtasts.Context`: ``record``,
``report_json`` and ``post_report``.
"""

import ctypes

from . import errors
from ._lib import lib

_INT64 = (-2**63, 2**63 - 1)
_UINT32, _UINT64 = (0, 2**32 - 1), (0, 2**64 - 1)


def _int(value, what, bounds):
    """As context._int (imported late: context imports this module)."""
    from .context import _int as check
    return check(value, what, *bounds)

#: Retries end this long after the first attempt (RFC 8460 §5.5).
RETRY_WINDOW_S = 86400
#: The first retry's gap; it doubles with each attempt...
RETRY_FIRST_S = 60
#: ...up to this gap.
RETRY_MAX_GAP_S = 14400
#: The longest random delay before a day's reports are sent (§4.1).
SEND_DELAY_MAX_S = 14400


class PostResult:
    """The outcome of :meth:`Context.post_report` (``mtasts_rpt_post()``).

    :ivar status: :class:`~mtasts.errors.Status`: OK (a 2xx answer:
        delivered), ERR_PROTOCOL (another HTTP status, 3xx included:
        redirects are not followed), ERR_FETCH (no response), ERR_WEBPKI
        (the endpoint's certificate is not valid)
    :ivar http_status: the response status, 0 without a response
    :ivar reason: why it failed, "" when delivered
    """

    __slots__ = ("status", "http_status", "reason")

    def __init__(self, status, http_status, reason):
        self.status = errors.status(status)
        self.http_status = http_status
        self.reason = reason

    @property
    def ok(self):
        """Whether the endpoint accepted the report."""
        return self.status == errors.Status.OK

    @property
    def is_temporary(self):
        """Whether trying again later may deliver it (always, on failure:
        see :func:`retry_next`)."""
        return errors.is_temporary(self.status)

    def raise_for_status(self):
        """Raise the status's exception unless delivered; else return
        self. A refused status raises :class:`~mtasts.ProtocolError`."""
        if not self.ok:
            raise errors.error(self.status, message=self.reason or None)
        return self

    def __repr__(self):
        return (f"<mtasts.PostResult {errors.status_name(self.status)} "
                f"http={self.http_status} reason={self.reason!r}>")


def retry_next(first_attempt, attempt, now, random):
    """When to try a failed delivery again (``mtasts_rpt_retry_next()``):
    exponential backoff from 1 minute to 4 hours, with up to a quarter of
    jitter taken from ``random``, for up to 24 hours after the first
    attempt (RFC 8460 §5.5).

    :param first_attempt: Unix seconds of the first attempt
    :param attempt: attempts made so far, at least 1
    :param now: Unix seconds now (the failed attempt's time)
    :param random: any int from 0 to 2**64 - 1
    :returns: Unix seconds of the next attempt, or None: give up
    :raises InvalidArgument: attempt 0, now before first_attempt, a value
        out of range
    """
    out = ctypes.c_int64()
    rc = lib.mtasts_rpt_retry_next(_int(first_attempt, "first_attempt",
                                        _INT64),
                                   _int(attempt, "attempt", _UINT32),
                                   _int(now, "now", _INT64),
                                   _int(random, "random", _UINT64),
                                   ctypes.byref(out))
    if rc == errors.Status.ERR_TIMEOUT:
        return None
    errors.check(rc)
    return out.value


def send_time(day, random):
    """When to send the reports of the UTC day holding ``day`` (Unix
    seconds) first (``mtasts_rpt_send_time()``): after the day, with a
    random delay of 1 to 14400 seconds (RFC 8460 §4.1).

    :param random: any int from 0 to 2**64 - 1
    :returns: Unix seconds
    """
    return lib.mtasts_rpt_send_time(_int(day, "day", _INT64),
                                    _int(random, "random", _UINT64))
