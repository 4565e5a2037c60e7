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

import collections
import ctypes
import os
import threading
import time

from . import _lib, errors
from ._handle import Handle
from ._lib import lib
from .enums import Mode, RptResult, Verdict, _lookup
from .parse import Policy, _bytes, _cstr, _host

#: Context options: name -> (C setter, kind). Kinds: "num" an int, checked
#: against the C parameter's type; "path" a str, bytes or PathLike, or None
#: (back to the library's default); "name" a str or bytes; "bool" a bool.
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
    "cache_max_idle_s": ("mtasts_ctx_set_cache_max_idle_s", "num"),
    "refresh_fetch_window_s": ("mtasts_ctx_set_refresh_fetch_window_s",
                               "num"),
    "refresh_jitter_s": ("mtasts_ctx_set_refresh_jitter_s", "num"),
    "random_seed": ("mtasts_ctx_set_random_seed", "num"),
    "https_port": ("mtasts_ctx_set_https_port", "num"),
    "ca_file": ("mtasts_ctx_set_ca_file", "path"),
    "ca_dir": ("mtasts_ctx_set_ca_dir", "path"),
    "resolver": ("mtasts_ctx_set_resolver", "path"),
    "helo_name": ("mtasts_ctx_set_helo_name", "name"),
    "rpt_https_verify": ("mtasts_ctx_set_rpt_https_verify", "bool"),
}

#: The limits of the C parameter types, checked before ctypes would
#: silently wrap a value around (2**32 + 1 would become 1).
_C_MAX = {"mtasts_ctx_set_https_port": 0xFFFF,
          "mtasts_ctx_set_body_max": 2**64 - 1,
          "mtasts_ctx_set_cache_capacity": 2**64 - 1,
          "mtasts_ctx_set_random_seed": 2**64 - 1}

_INT64_MIN, _INT64_MAX = -2**63, 2**63 - 1


def _int(value, what, lo, hi):
    """``value`` checked as an int in [lo, hi] (ctypes would wrap it)."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise errors.InvalidArgument(
            errors.Status.ERR_INVALID,
            message=f"{what} must be an int, not {type(value).__name__}")
    if not lo <= value <= hi:
        raise errors.InvalidArgument(
            errors.Status.ERR_INVALID,
            message=f"{what} {value} is out of range")
    return value


def _path(value, what="path"):
    """A file path argument: str, bytes or PathLike, no NUL byte."""
    try:
        value = os.fspath(value)
    except TypeError:
        raise errors.InvalidArgument(
            errors.Status.ERR_INVALID,
            message=f"{what} must be a path, not {type(value).__name__}"
        ) from None
    return _cstr(value, what)


class LookupResult(Handle):
    """The outcome of one lookup: the fields of ``mtasts_result`` copied
    into attributes, and the C result itself, kept for
    :meth:`Context.record` (``mtasts_rpt_record()`` takes it) until
    :meth:`close` or garbage collection.

    :ivar status: :class:`~mtasts.errors.Status`: OK when ``policy`` is to
        be applied, else the discovery status
    :ivar policy: a :class:`~mtasts.Policy` (its own reference) or None
    :ivar domain: the normalised policy domain
    :ivar txt_id: the id of the policy applied or of the TXT record seen
    :ivar failure: :class:`~mtasts.RptResult` to report (RFC 8460 §4.3),
        set even when a cached policy answered
    :ivar reason: a short human-readable reason, "" when none
    :ivar reason_code: the fixed code of the failure, such as
        "txt-lookup-failed" or "http-status-404"; "" when none
    :ivar from_cache: whether the policy came from the cache
    :ivar expires: the policy's expiry, Unix seconds by the context's clock
        (0 without a policy)
    :ivar store_status: what went wrong with the store hooks during this
        lookup (``mtasts_result_store_status()``): OK (nothing, or no
        store), ERR_STORE (a hook failed or raised), ERR_CACHE_CORRUPT
        (the store's value was refused), ERR_NOMEM
    :ivar store_error: the exception a Python store hook raised during
        this lookup (the first one), or None
    """

    __slots__ = ("status", "policy", "domain", "txt_id", "failure",
                 "reason", "reason_code", "from_cache", "expires", "store_status",
                 "store_error")
    _what = "lookup result"
    _release = staticmethod(lib.mtasts_result_free)

    def __init__(self, ptr):
        """Take ownership of ``ptr`` (an ``mtasts_result *``)."""
        self._ptr = ptr
        self.store_error = None
        self.status = errors.status(lib.mtasts_result_status(ptr))
        p = lib.mtasts_result_policy(ptr)
        self.policy = Policy._borrow(p) if p else None
        self.domain = _lib.text(lib.mtasts_result_domain(ptr))
        self.txt_id = _lib.text(lib.mtasts_result_txt_id(ptr))
        self.failure = _lookup(RptResult, lib.mtasts_result_failure(ptr))
        self.reason = _lib.text(lib.mtasts_result_reason(ptr))
        self.reason_code = _lib.text(lib.mtasts_result_reason_code(ptr))
        self.from_cache = bool(lib.mtasts_result_from_cache(ptr))
        self.expires = lib.mtasts_result_expires(ptr)
        self.store_status = errors.status(
            lib.mtasts_result_store_status(ptr))

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
        """Free the C result and drop the reference to the policy now,
        not at collection (the copied attributes stay readable)."""
        super().close()
        policy = getattr(self, "policy", None)
        if policy is not None:
            policy.close()

    def __repr__(self):
        return (f"<mtasts.LookupResult {self.domain} "
                f"{errors.status_name(self.status)} id={self.txt_id!r} "
                f"failure={self.failure} reason={self.reason!r}>")


class MxCheck(Handle):
    """The outcome of checking one MX host: the fields of
    ``mtasts_mx_check`` copied into attributes, and the C check itself,
    kept for :meth:`Context.record` until :meth:`close` or garbage
    collection.

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
    _what = "MX check"
    _release = staticmethod(lib.mtasts_mx_check_free)

    def __init__(self, ptr):
        """Take ownership of ``ptr`` (an ``mtasts_mx_check *``)."""
        self._ptr = ptr
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


class CacheEntry(collections.namedtuple(
        "CacheEntry",
        "domain txt_id mode fetched_at expires last_used policy")):
    """One cache entry, copied from a snapshot (``mtasts_cache_snapshot_*``).

    :ivar domain: the normalised policy domain
    :ivar txt_id: the TXT id of the policy
    :ivar mode: its :class:`~mtasts.Mode`
    :ivar fetched_at: when it was fetched (Unix seconds, context's clock)
    :ivar expires: fetched_at + max_age; applied strictly before
    :ivar last_used: the last lookup of the domain (a refresh is no use)
    :ivar policy: the :class:`~mtasts.Policy` (its own reference)
    """

    __slots__ = ()


def _snapshot_entries(snap):
    """The entries of a snapshot as CacheEntry records; frees it."""
    try:
        return [CacheEntry(
            _lib.text(lib.mtasts_cache_snapshot_domain(snap, i)),
            _lib.text(lib.mtasts_cache_snapshot_txt_id(snap, i)),
            _lookup(Mode, lib.mtasts_cache_snapshot_mode(snap, i)),
            lib.mtasts_cache_snapshot_fetched_at(snap, i),
            lib.mtasts_cache_snapshot_expires(snap, i),
            lib.mtasts_cache_snapshot_last_used(snap, i),
            Policy._borrow(lib.mtasts_cache_snapshot_policy(snap, i)))
            for i in range(lib.mtasts_cache_snapshot_count(snap))]
    finally:
        lib.mtasts_cache_snapshot_free(snap)


#: Status codes a store hook returns (errors.Status values as ints).
_OK = int(errors.Status.OK)
_NOT_FOUND = int(errors.Status.ERR_NOT_FOUND)
_TOO_LARGE = int(errors.Status.ERR_TOO_LARGE)
_STORE = int(errors.Status.ERR_STORE)


class Context(Handle):
    """A libmtasts context (``mtasts_ctx``): configuration, the in-memory
    policy cache and the default I/O (DNS through ldns, HTTPS and SMTP
    through mbedTLS).

    Options are keyword arguments, or attributes set later (before the
    first lookup): ``connect_timeout_ms``, ``fetch_timeout_ms``,
    ``dns_timeout_ms``, ``smtp_timeout_ms``, ``body_max``,
    ``cache_capacity``, ``cache_max_idle_s``, ``refresh_fetch_window_s``,
    ``refresh_jitter_s``, ``random_seed``, ``fetch_backoff_s``,
    ``no_policy_ttl_s``,
    ``txt_check_interval_s``, ``https_port``, ``ca_file``, ``ca_dir``,
    ``resolver`` (``"ADDR"`` or ``"ADDR@PORT"``), ``helo_name``,
    ``rpt_https_verify`` (a bool: False accepts any certificate of an
    https: rua, RFC 8460 §3) and ``clock`` (a callable returning Unix
    seconds). Setting ``None`` on a
    path or on the clock returns to the library's default. Reading an
    option gives the value set through this object, or None when it was
    never set (the library has no getters: None means "its default").

    The cache: :meth:`entries`, :meth:`due`, :meth:`refresh`,
    :meth:`remove`, :meth:`clear`, :meth:`remove_idle`, :meth:`save`,
    :meth:`load`, :meth:`set_store`. TLS reports: :meth:`record`,
    :meth:`report_json`, :meth:`report_gzip`, :meth:`report_mail`,
    :meth:`post_report`, :meth:`report_save`, :meth:`report_load`,
    :meth:`report_expire`.

    Threads: lookups, verifications, probes, the cache calls and the
    report calls may run from several Python threads at once (ctypes
    releases the GIL during each call). Setting options, :meth:`set_store`
    and :meth:`close` must not overlap with any other call.
    """

    def __init__(self, **options):
        self._ptr = None
        self._values = {}
        self._clock_cb = None      # the CFUNCTYPE object: must stay alive
        self._clock_fn = None
        self._clock_error = threading.local()
        self._store_cbs = None     # the three CFUNCTYPE objects, kept alive
        self._store_fns = None
        self._store_error = threading.local()
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
        valid. The clock and store callbacks are released only after the
        C context."""
        super().close()
        self._clock_cb = None
        self._store_cbs = None

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
        elif kind == "bool":
            if not isinstance(value, bool):
                raise errors.InvalidArgument(
                    errors.Status.ERR_INVALID,
                    message=f"{name} must be a bool")
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

    def _outcome(self, rc, out, cls):
        """After a call that judges something: the outcome as a ``cls``
        owning the C object (with a store hook's exception attached to a
        LookupResult); or, when the library gave none, the status raised
        (from a store hook's exception, if any). A clock error is raised
        either way."""
        try:
            store_error = self._take_store_error()
            if not out.value:
                e = errors.error(rc)
                if rc == errors.Status.ERR_STORE and store_error is not None:
                    raise e from store_error
                raise e
            # The object owns the pointer from its first statement: if
            # copying fails, collecting it frees the C object, once.
            result = cls(out.value)
            if isinstance(result, LookupResult):
                result.store_error = store_error
            return result
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
        return self._outcome(rc, out, LookupResult)

    def refresh(self, domain):
        """Refresh one cached domain now (``mtasts_refresh()``): query its
        TXT record at once and fetch the policy again when the id changed
        or the policy expires within ``refresh_fetch_window_s``. A failure
        never removes or shortens the cached policy. Blocks like
        :meth:`lookup`.

        This is also the re-check RFC 8461 §5.1 asks for before a message
        held back by an enforce policy fails for good.

        :returns: a :class:`LookupResult`, whatever the outcome
        :raises NotFound: the domain has no cache entry (look it up)
        :raises BadDomain, NotAscii, InvalidArgument, NoMemory
        """
        d = _cstr(domain, "domain")
        out = ctypes.c_void_p()
        rc = lib.mtasts_refresh(self._handle(), d, ctypes.byref(out))
        return self._outcome(rc, out, LookupResult)

    # -- the policy cache -----------------------------------------------------

    def entries(self):
        """Every cache entry holding a policy, expired ones included
        (``mtasts_cache_snapshot_new()``), roughly most recently used
        first: a list of :class:`CacheEntry`. The snapshot is copied and
        freed before this returns; each entry's policy holds its own
        reference."""
        out = ctypes.c_void_p()
        errors.check(lib.mtasts_cache_snapshot_new(self._handle(),
                                                   ctypes.byref(out)))
        return _snapshot_entries(out.value)

    def due(self, used_within_s=0, expiring_within_s=0, recheck_after_s=0):
        """The entries due for a proactive refresh (``mtasts_cache_due()``,
        RFC 8461 §3.3), as a list of :class:`CacheEntry`. An entry with a
        policy and no lookup in flight is due when

        - it was looked up within ``used_within_s`` (0: whenever) and its
          policy expires within ``expiring_within_s`` (0: never by this
          rule; already expired counts), or
        - its TXT record was last checked ``recheck_after_s`` or more ago
          (0: never by this rule).

        Each window is widened at random by up to ``refresh_jitter_s``.
        With the defaults (all 0) nothing is due. Pass each entry's
        ``domain`` to :meth:`refresh`.
        """
        args = [_int(v, n, 0, 0xFFFFFFFF) for v, n in (
            (used_within_s, "used_within_s"),
            (expiring_within_s, "expiring_within_s"),
            (recheck_after_s, "recheck_after_s"))]
        out = ctypes.c_void_p()
        errors.check(lib.mtasts_cache_due(self._handle(), *args,
                                          ctypes.byref(out)))
        return _snapshot_entries(out.value)

    def remove(self, domain):
        """Forget a domain: its policy and anything remembered about it
        (``mtasts_cache_remove()``); with a store, delete it there too.

        :raises NotFound: no entry for the domain (and no store)
        :raises StoreError: the store's delete failed (the entry in memory
            is removed all the same); a Python hook's exception is its
            ``__cause__``
        :raises BadDomain, NotAscii, InvalidArgument
        """
        d = _cstr(domain, "domain")
        rc = lib.mtasts_cache_remove(self._handle(), d)
        store_error = self._take_store_error()
        if rc != 0:
            e = errors.error(rc)
            if rc == errors.Status.ERR_STORE and store_error is not None:
                raise e from store_error
            raise e

    def clear(self):
        """Remove every entry (``mtasts_cache_clear()``; the store is
        left alone). :returns: the number of entries removed"""
        n = ctypes.c_size_t()
        errors.check(lib.mtasts_cache_clear(self._handle(), ctypes.byref(n)))
        return n.value

    def remove_idle(self):
        """Remove the entries not looked up for ``cache_max_idle_s``
        (``mtasts_cache_remove_idle()``). :returns: how many went"""
        n = ctypes.c_size_t()
        errors.check(lib.mtasts_cache_remove_idle(self._handle(),
                                                  ctypes.byref(n)))
        return n.value

    def save(self, path):
        """Write the unexpired entries to ``path`` (``mtasts_cache_save()``)
        atomically: a temporary file (mode 0600) renamed over it.

        :raises LocalIOError: it could not be written (the old file stays)
        :raises InvalidArgument: an empty path
        """
        errors.check(lib.mtasts_cache_save(self._handle(), _path(path)))

    def load(self, path, missing_ok=False):
        """Merge a file written by :meth:`save` into the cache
        (``mtasts_cache_load()``). The whole file is checked first: a
        fault refuses it and changes nothing. Expired and idle entries are
        skipped.

        :param missing_ok: return False instead of raising NotFound when
            there is no file (a first start)
        :returns: True when a file was loaded
        :raises NotFound: no file at path
        :raises CacheFormat, CacheCorrupt: with ``offset`` (the byte of the
            fault) and ``message``
        :raises LocalIOError: unreadable, or not a regular file
        """
        return self._load_file(lib.mtasts_cache_load, path, missing_ok)

    def _load_file(self, fn, path, missing_ok):
        """Call a loader taking (ctx, path, mtasts_parse_error *)."""
        perr = _lib.ParseErrorStruct.new()
        rc = fn(self._handle(), _path(path), ctypes.byref(perr))
        if rc == errors.Status.ERR_NOT_FOUND and missing_ok:
            return False
        errors.check(rc, perr)
        return True

    # -- the second-level store -----------------------------------------------

    def set_store(self, get, put, delete):
        """Install a second-level store shared by a fleet
        (``mtasts_ctx_set_store_hooks()``), or remove it with three Nones.

        - ``get(domain) -> bytes | None``: the value stored for the
          normalised ``domain`` (str), or None when there is none;
        - ``put(domain, value, ttl_s)``: store ``value`` (bytes, one cache
          file record) for ``ttl_s`` seconds;
        - ``delete(domain)``: forget the domain (no error when absent).

        A hook that raises (any exception) becomes a store failure: the
        library gets ``MTASTS_ERR_STORE``, the lookup goes on as without a
        store, its result's ``store_status`` is ERR_STORE and its
        ``store_error`` the exception; :meth:`remove` raises
        :class:`StoreError` from it. Nothing unwinds through C. A value
        longer than ``STORE_VALUE_MAX`` bytes is refused the same way.
        The exception is attached to the next result of the thread the
        hook ran on (two threads sharing one in-flight lookup: one of them).

        The hooks run on the threads that run lookups, concurrently, with
        the GIL taken for each call: they must be thread-safe, must not
        close this context or set its options. The ``ctypes`` trampolines
        are kept as long as the C context.
        """
        fns = (get, put, delete)
        if all(f is None for f in fns):
            errors.check(lib.mtasts_ctx_set_store_hooks(
                self._handle(), _lib.STORE_GET_FN(), _lib.STORE_PUT_FN(),
                _lib.STORE_DELETE_FN(), None))
            self._store_cbs = self._store_fns = None
            return
        if not all(callable(f) for f in fns):
            raise errors.InvalidArgument(
                errors.Status.ERR_INVALID,
                message="store hooks must be three callables or three Nones")
        cbs = (_lib.STORE_GET_FN(self._guard(self._store_get(get))),
               _lib.STORE_PUT_FN(self._guard(self._store_put(put))),
               _lib.STORE_DELETE_FN(self._guard(self._store_delete(delete))))
        errors.check(lib.mtasts_ctx_set_store_hooks(self._handle(), *cbs,
                                                    None))
        self._store_cbs = cbs       # the library keeps the pointers
        self._store_fns = fns

    @property
    def store(self):
        """The (get, put, delete) hooks set, or None."""
        return self._store_fns

    def _guard(self, hook):
        """``hook`` made safe to call from C: any exception is kept for
        the calling thread and becomes MTASTS_ERR_STORE."""
        local = self._store_error

        def trampoline(*args):
            try:
                return hook(*args)
            except BaseException as e:   # never let it unwind into C
                if getattr(local, "error", None) is None:
                    local.error = e
                return _STORE
        return trampoline

    @staticmethod
    def _store_get(get):
        def hook(domain, buf, cap, len_out, user):
            del user
            value = get(_lib.text(domain))
            if value is None:
                return _NOT_FOUND
            value = bytes(value)
            if len(value) > cap:
                raise errors.TooLarge(
                    errors.Status.ERR_TOO_LARGE,
                    message=f"store value of {len(value)} bytes, "
                            f"more than {cap}")
            ctypes.memmove(buf, value, len(value))
            len_out[0] = len(value)
            return _OK
        return hook

    @staticmethod
    def _store_put(put):
        def hook(domain, value, n, ttl_s, user):
            del user
            put(_lib.text(domain), ctypes.string_at(value, n), ttl_s)
            return _OK
        return hook

    @staticmethod
    def _store_delete(delete):
        def hook(domain, user):
            del user
            delete(_lib.text(domain))
            return _OK
        return hook

    def _take_store_error(self):
        e = getattr(self._store_error, "error", None)
        self._store_error.error = None
        return e

    # -- TLS reporting (RFC 8460) ---------------------------------------------

    def record(self, lookup, check=None, sending_ip=None, sessions=1):
        """Count the sessions of one delivery attempt to one MX for the
        policy domain's report of the day (``mtasts_rpt_record()``; the
        day by the context's clock). docs/report.md says what is counted.

        :param lookup: the :class:`LookupResult` applied to the message
        :param check: the :class:`MxCheck` of the MX, or None when the
            session ended before STARTTLS (give None for a probe whose
            ``status`` is not OK)
        :param sending_ip: this MTA's address (IPv4 or IPv6 text), or None
        :param sessions: how many sessions this stands for, at least 1
        :raises ReportFull: a bound of the report store; nothing recorded
        :raises InvalidArgument: sending_ip not an IP address, sessions 0,
            a closed result or check
        """
        if not isinstance(lookup, LookupResult):
            raise errors.InvalidArgument(
                errors.Status.ERR_INVALID,
                message="lookup must be a LookupResult")
        if check is not None and not isinstance(check, MxCheck):
            raise errors.InvalidArgument(
                errors.Status.ERR_INVALID,
                message="check must be an MxCheck or None")
        ip = None if sending_ip is None else _cstr(sending_ip, "sending_ip")
        n = _int(sessions, "sessions", 0, 0xFFFFFFFF)
        errors.check(lib.mtasts_rpt_record(
            self._handle(), lookup._handle(),
            None if check is None else check._handle(), ip, n))

    def _report_args(self, domain, day, org_name, contact_info):
        return (self._handle(), _cstr(domain, "domain"),
                _int(day, "day", _INT64_MIN, _INT64_MAX),
                _cstr(org_name, "org_name"),
                _cstr(contact_info, "contact_info"))

    @staticmethod
    def _report_bytes(ptr, n):
        try:
            return ctypes.string_at(ptr, n)
        finally:
            lib.mtasts_rpt_free(ptr)

    def report_json(self, domain, day, org_name, contact_info):
        """The RFC 8460 §4 JSON report of ``domain`` for the UTC day
        holding ``day`` (Unix seconds) (``mtasts_rpt_json()``), as str.

        :param org_name: organization-name, 1 to 256 bytes of UTF-8
        :param contact_info: contact-info, ``local@domain``; its domain is
            the submitter in the report-id
        :raises NoData: nothing recorded for that domain and day
        :raises BadDomain, NotAscii: domain
        :raises InvalidArgument: org_name or contact_info
        """
        out, n = ctypes.c_void_p(), ctypes.c_size_t()
        errors.check(lib.mtasts_rpt_json(
            *self._report_args(domain, day, org_name, contact_info),
            ctypes.byref(out), ctypes.byref(n)))
        return self._report_bytes(out.value, n.value).decode("utf-8")

    def report_gzip(self, domain, day, org_name, contact_info):
        """The report of :meth:`report_json` gzip-compressed, and its file
        name ``submitter!domain!begin!end.json.gz`` (RFC 8460 §5.1, §5.2;
        ``mtasts_rpt_gzip()``): the body to POST to an https: rua as
        ``application/tlsrpt+gzip``.

        :returns: ``(gz_bytes, file_name)``
        :raises: as :meth:`report_json`
        """
        out, n = ctypes.c_void_p(), ctypes.c_size_t()
        name = ctypes.create_string_buffer(_lib.RPT_NAME_BUFSIZE)
        errors.check(lib.mtasts_rpt_gzip(
            *self._report_args(domain, day, org_name, contact_info),
            ctypes.byref(out), ctypes.byref(n), name))
        return self._report_bytes(out.value, n.value), _lib.text(name.value)

    def report_mail(self, domain, day, org_name, contact_info, rua):
        """The report as a whole mail message for a mailto: rua (RFC 8460
        §5.3; ``mtasts_rpt_mail()``), lines ending in CRLF, ready to be
        DKIM-signed and sent.

        :param rua: a mailto: URI (str, or a :class:`~mtasts.Rua`)
        :returns: the message, bytes
        :raises InvalidArgument: rua not a mailto: URI with one address;
            and as :meth:`report_json`
        """
        if isinstance(rua, tuple) and hasattr(rua, "uri"):
            rua = rua.uri
        out, n = ctypes.c_void_p(), ctypes.c_size_t()
        errors.check(lib.mtasts_rpt_mail(
            *self._report_args(domain, day, org_name, contact_info),
            _cstr(rua, "rua"), ctypes.byref(out), ctypes.byref(n)))
        return self._report_bytes(out.value, n.value)

    def post_report(self, domain, day, org_name, contact_info, rua):
        """POST the gzip'ed report of ``domain``'s day to an https: rua
        (``mtasts_rpt_post()``, RFC 8460 §5.4) and wait for the answer.
        The ``rpt_https_verify`` option (default True) says whether the
        endpoint's certificate must be valid.

        :param rua: an https: URI (str, or a :class:`~mtasts.Rua`)
        :returns: a :class:`~mtasts.PostResult`: delivered (any 2xx) or
            not (another status, redirects included; no response; a bad
            certificate)
        :raises ParseError: rua is not a usable https: URI (the message
            names the byte and why)
        :raises NoData: nothing recorded for that domain and day
        :raises LocalIOError: the trust store cannot be read
        :raises BadDomain, NotAscii, InvalidArgument, NoMemory
        """
        from .report import PostResult
        if isinstance(rua, tuple) and hasattr(rua, "uri"):
            rua = rua.uri
        status = ctypes.c_uint()
        why = ctypes.create_string_buffer(512)
        rc = lib.mtasts_rpt_post(
            *self._report_args(domain, day, org_name, contact_info),
            _cstr(rua, "rua"), ctypes.byref(status), why, len(why))
        reason = why.value.decode("utf-8", "surrogateescape")
        if rc not in (errors.Status.OK, errors.Status.ERR_PROTOCOL,
                      errors.Status.ERR_FETCH, errors.Status.ERR_WEBPKI):
            raise errors.error(rc, message=reason or None)
        return PostResult(rc, status.value, reason)

    def report_save(self, path):
        """Save what was recorded to ``path`` (``mtasts_rpt_save()``),
        atomically, so a restart loses nothing of the day.

        :raises LocalIOError: not written (the old file stays)
        """
        errors.check(lib.mtasts_rpt_save(self._handle(), _path(path)))

    def report_load(self, path, missing_ok=False):
        """Add the counts of a file written by :meth:`report_save`
        (``mtasts_rpt_load()``); the whole file is checked first.

        :returns: True when a file was loaded (False: none, missing_ok)
        :raises NotFound: no file at path
        :raises ReportFileError: not a report file, or damaged: with
            ``offset`` and ``message``
        :raises ReportFull: the sums would pass a bound of the store
        :raises LocalIOError
        """
        return self._load_file(lib.mtasts_rpt_load, path, missing_ok)

    def report_expire(self, before):
        """Forget what was recorded for UTC days before the day of
        ``before`` (Unix seconds) (``mtasts_rpt_expire()``).

        :returns: the number of aggregates removed
        """
        return lib.mtasts_rpt_expire(
            self._handle(), _int(before, "before", _INT64_MIN, _INT64_MAX))

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
        return self._outcome(rc, out, MxCheck)

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
        return self._outcome(rc, out, MxCheck)


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
