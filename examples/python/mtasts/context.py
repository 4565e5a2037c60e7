"""The context (configuration, policy cache, trust store, clock), blocking
lookups, MX verification and probes, and the delivery decision.

Error policy: calls that *judge* something (a lookup, a verification, a
probe) return an object describing the outcome, whatever it is: a DNS
failure, a missing policy, an expired certificate or a refused connection
is an answer, not an exception. They raise only when no outcome came back:
argument errors (:class:`~mtasts.errors.InvalidArgument`,
:class:`~mtasts.errors.BadDomain`, :class:`~mtasts.errors.NotAscii`),
out of memory, and, for :meth:`Context.verify_mx`, an unreadable trust
store (:class:`~mtasts.errors.LocalIOError`). This is the C API's own
split: the library hands back a result object exactly in those cases.
Use ``result.raise_for_status()`` to turn an outcome into an exception.
"""

import ctypes
import os
import threading
import time

from . import _lib, errors
from ._handle import Handle
from ._lib import lib
from .enums import RptResult, Verdict, _lookup
from .parse import Policy, _bytes, _cstr, _host

#: Context options: name -> (C setter, kind). Kinds: "num" an int, checked
#: against the C parameter's type; "path" a str, bytes or PathLike, or None
#: (back to the library's default); "name" a str or bytes.
_OPTIONS = {
    "connect_timeout_ms": ("mtasts_ctx_set_connect_timeout_ms", "num"),
    "fetch_timeout_ms": ("mtasts_ctx_set_fetch_timeout_ms", "num"),
    "dns_timeout_ms": ("mtasts_ctx_set_dns_timeout_ms", "num"),
    "smtp_timeout_ms": ("mtasts_ctx_set_smtp_timeout_ms", "num"),
    "body_max": ("mtasts_ctx_set_body_max", "num"),
    "cache_capacity": ("mtasts_ctx_set_cache_capacity", "num"),
    "fetch_backoff_s": ("mtasts_ctx_set_fetch_backoff_s", "num"),
    "no_policy_ttl_s": ("mtasts_ctx_set_no_policy_ttl_s", "num"),
    "txt_check_interval_s": ("mtasts_ctx_set_txt_check_interval_s", "num"),
    "https_port": ("mtasts_ctx_set_https_port", "num"),
    "ca_file": ("mtasts_ctx_set_ca_file", "path"),
    "ca_dir": ("mtasts_ctx_set_ca_dir", "path"),
    "resolver": ("mtasts_ctx_set_resolver", "path"),
    "helo_name": ("mtasts_ctx_set_helo_name", "name"),
}

#: The limits of the C parameter types, checked before ctypes would
#: silently wrap a value around (2**32 + 1 would become 1).
_C_MAX = {"mtasts_ctx_set_https_port": 0xFFFF,
          "mtasts_ctx_set_body_max": 2**64 - 1,
          "mtasts_ctx_set_cache_capacity": 2**64 - 1}


class LookupResult:
    """The outcome of one lookup (a copy of ``mtasts_result``).

    :ivar status: :class:`~mtasts.errors.Status`: OK when ``policy`` is to
        be applied, else the discovery status
    :ivar policy: a :class:`~mtasts.Policy` (its own reference) or None
    :ivar domain: the normalised policy domain
    :ivar txt_id: the id of the policy applied or of the TXT record seen
    :ivar failure: :class:`~mtasts.RptResult` to report (RFC 8460 §4.3),
        set even when a cached policy answered
    :ivar reason: a short human-readable reason, "" when none
    :ivar from_cache: whether the policy came from the cache
    :ivar expires: the policy's expiry, Unix seconds by the context's clock
        (0 without a policy)
    """

    __slots__ = ("status", "policy", "domain", "txt_id", "failure",
                 "reason", "from_cache", "expires")

    def __init__(self, ptr):
        self.status = errors.status(lib.mtasts_result_status(ptr))
        p = lib.mtasts_result_policy(ptr)
        self.policy = Policy._borrow(p) if p else None
        self.domain = _lib.text(lib.mtasts_result_domain(ptr))
        self.txt_id = _lib.text(lib.mtasts_result_txt_id(ptr))
        self.failure = _lookup(RptResult, lib.mtasts_result_failure(ptr))
        self.reason = _lib.text(lib.mtasts_result_reason(ptr))
        self.from_cache = bool(lib.mtasts_result_from_cache(ptr))
        self.expires = lib.mtasts_result_expires(ptr)

    @property
    def ok(self):
        """Whether a policy is to be applied (it may be in mode none)."""
        return self.status == errors.Status.OK

    @property
    def is_temporary(self):
        """Whether the same lookup later may give another outcome."""
        return errors.is_temporary(self.status)

    def raise_for_status(self):
        """Raise the status's exception unless it is OK; else return self."""
        if not self.ok:
            raise errors.error(self.status, message=self.reason or None)
        return self

    def close(self):
        """Drop the reference to the policy now, not at collection."""
        if self.policy is not None:
            self.policy.close()

    def __repr__(self):
        return (f"<mtasts.LookupResult {self.domain} "
                f"{errors.status_name(self.status)} id={self.txt_id!r} "
                f"failure={self.failure} reason={self.reason!r}>")


class MxCheck:
    """The outcome of checking one MX host (a copy of ``mtasts_mx_check``).

    :ivar status: OK when the TLS outcome is known (always for
        verify_mx), else the probe's ConnectError/Timeout/Protocol status
    :ivar host: the host checked, normalised
    :ivar ip: the address the probe connected to ("" for verify_mx)
    :ivar matches: whether the host matched one of the policy's patterns
    :ivar tls: the TLS outcome alone, a :class:`~mtasts.RptResult`; pass it
        to :func:`decide`
    :ivar result: the result type to report under the policy
    :ivar reason_code: a fixed code such as "certificate-expired", ""
    :ivar reason: a human-readable account, "" when every check passed
    """

    __slots__ = ("status", "host", "ip", "matches", "tls", "result",
                 "reason_code", "reason")

    def __init__(self, ptr):
        self.status = errors.status(lib.mtasts_mx_check_status(ptr))
        self.host = _lib.text(lib.mtasts_mx_check_host(ptr))
        self.ip = _lib.text(lib.mtasts_mx_check_ip(ptr))
        self.matches = bool(lib.mtasts_mx_check_matches(ptr))
        self.tls = _lookup(RptResult, lib.mtasts_mx_check_tls(ptr))
        self.result = _lookup(RptResult, lib.mtasts_mx_check_result(ptr))
        self.reason_code = _lib.text(lib.mtasts_mx_check_reason_code(ptr))
        self.reason = _lib.text(lib.mtasts_mx_check_reason(ptr))

    @property
    def ok(self):
        """Whether the session reached TLS and nothing is to be reported."""
        return (self.status == errors.Status.OK
                and self.result == RptResult.NONE)

    def raise_for_status(self):
        """Raise the probe's exception (a ProbeError) unless the status is
        OK; a certificate failure is not an exception: see ``result``."""
        if self.status != errors.Status.OK:
            raise errors.error(self.status, message=self.reason or None)
        return self

    def __repr__(self):
        return (f"<mtasts.MxCheck {self.host} "
                f"{errors.status_name(self.status)} tls={self.tls} "
                f"result={self.result} code={self.reason_code!r}>")


def _policy_ptr(policy):
    if policy is None:
        return None
    if not isinstance(policy, Policy):
        raise errors.InvalidArgument(
            errors.Status.ERR_INVALID,
            message=f"policy must be a Policy or None, not "
                    f"{type(policy).__name__}")
    return policy._handle()


def _copy_and_free(ptr, cls, free):
    try:
        return cls(ptr)
    finally:
        free(ptr)


class Context(Handle):
    """A libmtasts context (``mtasts_ctx``): configuration, the in-memory
    policy cache and the default I/O (DNS through ldns, HTTPS and SMTP
    through mbedTLS).

    Options are keyword arguments, or attributes set later (before the
    first lookup): ``connect_timeout_ms``, ``fetch_timeout_ms``,
    ``dns_timeout_ms``, ``smtp_timeout_ms``, ``body_max``,
    ``cache_capacity``, ``fetch_backoff_s``, ``no_policy_ttl_s``,
    ``txt_check_interval_s``, ``https_port``, ``ca_file``, ``ca_dir``,
    ``resolver`` (``"ADDR"`` or ``"ADDR@PORT"``), ``helo_name`` and
    ``clock`` (a callable returning Unix seconds). Setting ``None`` on a
    path or on the clock returns to the library's default. Reading an
    option gives the value set through this object, or None when it was
    never set (the library has no getters: None means "its default").

    Threads: lookups, verifications and probes may run from several Python
    threads at once (ctypes releases the GIL during each call). Setting
    options and :meth:`close` must not overlap with any other call.
    """

    def __init__(self, **options):
        self._ptr = None
        self._values = {}
        self._clock_cb = None      # the CFUNCTYPE object: must stay alive
        self._clock_fn = None
        self._clock_error = threading.local()
        out = ctypes.c_void_p()
        errors.check(lib.mtasts_ctx_new(ctypes.byref(out)))
        self._ptr = out.value
        try:
            self.configure(**options)
        except BaseException:
            self.close()
            raise

    # -- life cycle ---------------------------------------------------------

    _what = "context"
    _release = staticmethod(lib.mtasts_ctx_free)

    def close(self):
        """Free the context (idempotent). Policies taken from it stay
        valid. The clock callback is released only after the C context."""
        super().close()
        self._clock_cb = None

    # -- options -------------------------------------------------------------

    def configure(self, **options):
        """Set several options at once; unknown names raise TypeError."""
        for name, value in options.items():
            if name != "clock" and name not in _OPTIONS:
                raise TypeError(f"unknown mtasts.Context option {name!r}")
            setattr(self, name, value)

    def _set(self, name, value):
        setter, kind = _OPTIONS[name]
        fn = getattr(lib, setter)
        if kind == "num":
            if not isinstance(value, int) or isinstance(value, bool):
                raise errors.InvalidArgument(
                    errors.Status.ERR_INVALID,
                    message=f"{name} must be an int")
            if value < 0 or value > _C_MAX.get(setter, 0xFFFFFFFF):
                raise errors.InvalidArgument(
                    errors.Status.ERR_INVALID,
                    message=f"{name} {value} is out of range")
            arg = value
        elif value is None and kind == "path":
            arg = None
        elif kind == "path":
            arg = _cstr(os.fspath(value), name)     # str, bytes, PathLike
        else:
            arg = _cstr(value, name)
        errors.check(fn(self._handle(), arg))
        self._values[name] = value

    def _set_clock(self, fn):
        if fn is None:
            errors.check(lib.mtasts_ctx_set_clock(self._handle(),
                                                  _lib.CLOCK_FN(), None))
            self._clock_cb = None
        else:
            if not callable(fn):
                raise errors.InvalidArgument(
                    errors.Status.ERR_INVALID,
                    message="clock must be callable or None")
            cb = _lib.CLOCK_FN(self._make_clock(fn))
            errors.check(lib.mtasts_ctx_set_clock(self._handle(), cb, None))
            # The library keeps the function pointer: keep its trampoline
            # alive as long as the C context (close() drops it afterwards).
            self._clock_cb = cb
        self._clock_fn = fn

    def _make_clock(self, fn):
        local = self._clock_error

        def clock(user):
            del user
            try:
                now = int(fn())
                if not -2**63 <= now < 2**63:
                    raise OverflowError(f"clock gave {now}: not an int64_t")
                return now
            except BaseException as e:   # never let it unwind into C
                # Kept for the thread whose call made the library ask;
                # raised when that call returns (_raise_clock_error).
                if getattr(local, "error", None) is None:
                    local.error = e
                return int(time.time())
        return clock

    def _raise_clock_error(self):
        e = getattr(self._clock_error, "error", None)
        if e is not None:
            self._clock_error.error = None
            raise RuntimeError("the mtasts.Context clock raised") from e

    @property
    def clock(self):
        """The clock callable set, or None (the library's time(NULL))."""
        return self._clock_fn

    @clock.setter
    def clock(self, fn):
        self._set_clock(fn)

    def _outcome(self, rc, out, cls, free):
        """After a call that judges something: the outcome copied into a
        ``cls`` and the C object freed; or, when the library gave none,
        the status raised. A clock error is raised either way."""
        try:
            if not out.value:
                raise errors.error(rc)
            return _copy_and_free(out.value, cls, free)
        finally:
            self._raise_clock_error()

    # -- lookups -------------------------------------------------------------

    def lookup(self, domain):
        """Look up the policy to apply to ``domain`` now, waiting for DNS
        and the fetch (``mtasts_lookup_result()``).

        :returns: a :class:`LookupResult`, whatever the outcome
        :raises BadDomain, NotAscii: the domain is not a host name
        :raises InvalidArgument, NoMemory: no lookup ran
        :raises RuntimeError: the clock callable raised (the cause is
            chained); the lookup ran on the system time meanwhile
        """
        d = _cstr(domain, "domain")
        out = ctypes.c_void_p()
        rc = lib.mtasts_lookup_result(self._handle(), d, ctypes.byref(out))
        return self._outcome(rc, out, LookupResult, lib.mtasts_result_free)

    # -- MX checks -----------------------------------------------------------

    def verify_mx(self, policy, host, chain):
        """Check an MX host against a policy and the DER chain it presented
        (``mtasts_verify_mx()``).

        :param policy: a :class:`~mtasts.Policy`, or None to check the
            certificate alone
        :param host: the MX host as in the MX record (ASCII)
        :param chain: DER certificates (bytes), leaf first
        :returns: an :class:`MxCheck`: a failed check is a result
        :raises LocalIOError: the trust store cannot be read
        :raises InvalidArgument, NotAscii, NoMemory
        """
        pol = _policy_ptr(policy)
        h = _host(host)
        certs = [_bytes(c, "certificate") for c in chain]
        n = len(certs)
        ptrs = (ctypes.c_char_p * max(n, 1))(*certs)
        lens = (ctypes.c_size_t * max(n, 1))(*[len(c) for c in certs])
        out = ctypes.c_void_p()
        rc = lib.mtasts_verify_mx(self._handle(), pol, h, ptrs, lens, n,
                                  ctypes.byref(out))
        del certs
        return self._outcome(rc, out, MxCheck, lib.mtasts_mx_check_free)

    def probe_mx(self, policy, host, addr=None, port=25):
        """Run an SMTP STARTTLS session with an MX host and check it
        (``mtasts_probe_mx()``). Blocks for up to 2 DNS + 2 connect +
        5 SMTP timeouts.

        :param addr: an IP address to connect to, or None to resolve host
        :returns: an :class:`MxCheck`; a session that ended before STARTTLS
            has ``status`` ConnectError/Timeout/Protocol (``raise_for_status``
            raises it)
        :raises InvalidArgument: addr not an IP address, host not a host
            name, bad port
        :raises NotAscii, NoMemory
        """
        pol = _policy_ptr(policy)
        h = _host(host)
        a = None if addr is None else _cstr(addr, "addr")
        if not isinstance(port, int) or not 0 <= port <= 0xFFFF:
            raise errors.InvalidArgument(errors.Status.ERR_INVALID,
                                         message=f"bad port {port!r}")
        out = ctypes.c_void_p()
        rc = lib.mtasts_probe_mx(self._handle(), pol, h, a, port,
                                 ctypes.byref(out))
        return self._outcome(rc, out, MxCheck, lib.mtasts_mx_check_free)


def _option_property(name):
    def get(self):
        return self._values.get(name)

    def set(self, value):
        self._set(name, value)
    return property(get, set, doc=f"The {name} option (see Context).")


for _name in _OPTIONS:
    setattr(Context, _name, _option_property(_name))


def decide(policy, host, tls, dane=False):
    """Decide whether a message may go to an MX host (RFC 8461 §5,
    ``mtasts_decide()``).

    :param policy: the :class:`~mtasts.Policy` to apply, or None
    :param host: the MX host name (ASCII)
    :param tls: the TLS outcome: a :class:`~mtasts.RptResult` (NONE when
        valid), or an :class:`MxCheck` (its ``tls`` is used)
    :param dane: the MTA found usable DNSSEC-validated TLSA records
    :returns: a :class:`~mtasts.Verdict`; ``str()`` gives its name
    :raises InvalidArgument: tls is not a TLS outcome
    :raises NotAscii: host has a non-ASCII byte
    """
    if isinstance(tls, MxCheck):
        tls = tls.tls
    if (not isinstance(tls, int) or isinstance(tls, bool)
            or not -2**31 <= tls < 2**31):   # ctypes would wrap it around
        raise errors.InvalidArgument(
            errors.Status.ERR_INVALID,
            message=f"tls must be an RptResult, not {tls!r}")
    out = ctypes.c_int()
    errors.check(lib.mtasts_decide(_policy_ptr(policy), _host(host),
                                   int(tls), 1 if dane else 0,
                                   ctypes.byref(out)))
    return _lookup(Verdict, out.value)
