"""Loading libmtasts.so.1 and declaring the C functions the binding calls.

Every function used has its argtypes and restype declared here, so that
ctypes never guesses (a guessed ``int`` return would truncate pointers on
64-bit machines). Handles are passed as ``c_void_p``: they are opaque in
the C API too, and the binding never looks inside them.

The library is looked for, in order: the path in the environment variable
MTASTS_LIBRARY; whatever ``ctypes.util.find_library("mtasts")`` finds; the
SONAME ``libmtasts.so.1`` through the dynamic loader's search path.
"""

import ctypes
import ctypes.util
import os

#: The oldest library release this binding knows (0xMMmmpp).
MIN_VERSION_NUM = 0x010000

#: The one public struct (mtasts.h: mtasts_parse_error). Its leading size
#: member is set by the caller; the library writes nothing past it.
class ParseErrorStruct(ctypes.Structure):
    _fields_ = [
        ("size", ctypes.c_size_t),
        ("line", ctypes.c_size_t),
        ("column", ctypes.c_size_t),
        ("offset", ctypes.c_size_t),
        ("message", ctypes.c_char_p),
    ]

    @classmethod
    def new(cls):
        """A zeroed struct with ``size`` set, as MTASTS_PARSE_ERROR_INIT."""
        err = cls()
        err.size = ctypes.sizeof(cls)
        return err


#: int64_t mtasts_clock_fn(void *user)
CLOCK_FN = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_void_p)

#: The store hooks (mtasts.h: mtasts_store_get_fn, _put_fn, _delete_fn).
#: Buffers are c_void_p: the binding copies with ctypes.memmove and
#: ctypes.string_at, and a c_char_p argument would stop at a NUL byte.
STORE_GET_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_char_p,
                                ctypes.c_void_p, ctypes.c_size_t,
                                ctypes.POINTER(ctypes.c_size_t),
                                ctypes.c_void_p)
STORE_PUT_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_char_p,
                                ctypes.c_void_p, ctypes.c_size_t,
                                ctypes.c_int64, ctypes.c_void_p)
STORE_DELETE_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_char_p,
                                   ctypes.c_void_p)

#: The size of the buffers the C API fills (mtasts.h macros).
ID_BUFSIZE = 33
DOMAIN_BUFSIZE = 254
RPT_NAME_BUFSIZE = 600
#: MTASTS_STORE_VALUE_MAX: the largest store value.
STORE_VALUE_MAX = 65863


def _candidates():
    path = os.environ.get("MTASTS_LIBRARY")
    if path:
        # An explicit path is the only candidate: a typo must not silently
        # fall back to another copy of the library.
        return [path]
    found = ctypes.util.find_library("mtasts")
    return [p for p in (found, "libmtasts.so.1") if p]


def _load():
    errors = []
    for name in _candidates():
        try:
            return ctypes.CDLL(name)
        except OSError as e:
            errors.append(f"{name}: {e}")
    raise ImportError("mtasts: cannot load libmtasts ("
                      + "; ".join(errors)
                      + "); set MTASTS_LIBRARY to the library's path")


lib = _load()

_p = ctypes.c_void_p
_s = ctypes.c_char_p
_i = ctypes.c_int
_z = ctypes.c_size_t
_b = ctypes.c_bool
_u32 = ctypes.c_uint32
_i64 = ctypes.c_int64
_perr = ctypes.POINTER(ParseErrorStruct)
_pp = ctypes.POINTER(ctypes.c_void_p)
_szp = ctypes.POINTER(ctypes.c_size_t)
_strv = ctypes.POINTER(ctypes.c_char_p)

# name: (restype, argtypes). Enums are int in the C ABI on every platform
# libmtasts supports; uint16_t and uint32_t are spelled out.
_PROTOTYPES = {
    "mtasts_version": (_u32, []),
    "mtasts_version_string": (_s, []),
    "mtasts_strerror": (_s, [_i]),
    "mtasts_status_name": (_s, [_i]),
    "mtasts_status_is_bad_input": (_b, [_i]),
    "mtasts_status_is_temporary": (_b, [_i]),
    "mtasts_domain_normalize": (_i, [_s, _z, ctypes.c_char_p, _perr]),
    "mtasts_txt_parse": (_i, [_s, _z, ctypes.c_char_p]),
    "mtasts_txt_diagnose": (_i, [_s, _z, ctypes.c_char_p, _perr]),
    "mtasts_txt_select": (_i, [_strv, _szp, _z, ctypes.c_char_p]),
    "mtasts_policy_parse": (_i, [_s, _z, _pp, _perr]),
    "mtasts_policy_ref": (_p, [_p]),
    "mtasts_policy_unref": (None, [_p]),
    "mtasts_policy_mode": (_i, [_p]),
    "mtasts_mode_name": (_s, [_i]),
    "mtasts_policy_max_age": (_u32, [_p]),
    "mtasts_policy_mx_count": (_z, [_p]),
    "mtasts_policy_mx": (_s, [_p, _z]),
    # Returned as a raw pointer: the text may hold a NUL, so its length
    # comes from len_out and the bytes are read with ctypes.string_at.
    "mtasts_policy_text": (_p, [_p, _szp]),
    "mtasts_policy_warnings": (_u32, [_p]),
    "mtasts_policy_match_mx": (_b, [_p, _s]),
    "mtasts_mx_pattern_match": (_b, [_s, _s]),
    "mtasts_rpt_result_name": (_s, [_i]),
    "mtasts_ctx_new": (_i, [_pp]),
    "mtasts_ctx_free": (None, [_p]),
    "mtasts_ctx_set_connect_timeout_ms": (_i, [_p, _u32]),
    "mtasts_ctx_set_fetch_timeout_ms": (_i, [_p, _u32]),
    "mtasts_ctx_set_dns_timeout_ms": (_i, [_p, _u32]),
    "mtasts_ctx_set_body_max": (_i, [_p, _z]),
    "mtasts_ctx_set_ca_file": (_i, [_p, _s]),
    "mtasts_ctx_set_ca_dir": (_i, [_p, _s]),
    "mtasts_ctx_set_resolver": (_i, [_p, _s]),
    "mtasts_ctx_set_cache_capacity": (_i, [_p, _z]),
    "mtasts_ctx_set_fetch_backoff_s": (_i, [_p, _u32]),
    "mtasts_ctx_set_no_policy_ttl_s": (_i, [_p, _u32]),
    "mtasts_ctx_set_txt_check_interval_s": (_i, [_p, _u32]),
    "mtasts_ctx_set_clock": (_i, [_p, CLOCK_FN, _p]),
    "mtasts_ctx_set_https_port": (_i, [_p, ctypes.c_uint16]),
    "mtasts_ctx_set_smtp_timeout_ms": (_i, [_p, _u32]),
    "mtasts_ctx_set_helo_name": (_i, [_p, _s]),
    "mtasts_lookup_result": (_i, [_p, _s, _pp]),
    "mtasts_result_status": (_i, [_p]),
    "mtasts_result_policy": (_p, [_p]),
    "mtasts_result_domain": (_s, [_p]),
    "mtasts_result_txt_id": (_s, [_p]),
    "mtasts_result_failure": (_i, [_p]),
    "mtasts_result_reason": (_s, [_p]),
    "mtasts_result_reason_code": (_s, [_p]),
    "mtasts_result_from_cache": (_b, [_p]),
    "mtasts_result_expires": (ctypes.c_int64, [_p]),
    "mtasts_result_free": (None, [_p]),
    "mtasts_verify_mx": (_i, [_p, _p, _s,
                              ctypes.POINTER(ctypes.c_char_p), _szp, _z,
                              _pp]),
    "mtasts_probe_mx": (_i, [_p, _p, _s, _s, ctypes.c_uint16, _pp]),
    "mtasts_mx_check_status": (_i, [_p]),
    "mtasts_mx_check_host": (_s, [_p]),
    "mtasts_mx_check_ip": (_s, [_p]),
    "mtasts_mx_check_matches": (_b, [_p]),
    "mtasts_mx_check_tls": (_i, [_p]),
    "mtasts_mx_check_result": (_i, [_p]),
    "mtasts_mx_check_reason_code": (_s, [_p]),
    "mtasts_mx_check_reason": (_s, [_p]),
    "mtasts_mx_check_free": (None, [_p]),
    "mtasts_decide": (_i, [_p, _s, _i, ctypes.c_uint,
                           ctypes.POINTER(ctypes.c_int)]),
    "mtasts_verdict_name": (_s, [_i]),
    "mtasts_tlsrpt_parse": (_i, [_s, _z, _pp, _perr]),
    "mtasts_tlsrpt_select": (_i, [_strv, _szp, _z, _pp, _perr]),
    "mtasts_tlsrpt_rua_count": (_z, [_p]),
    "mtasts_tlsrpt_rua": (_s, [_p, _z]),
    "mtasts_tlsrpt_rua_scheme": (_i, [_p, _z]),
    "mtasts_tlsrpt_free": (None, [_p]),
    # Policy cache
    "mtasts_ctx_set_cache_max_idle_s": (_i, [_p, _u32]),
    "mtasts_ctx_set_refresh_fetch_window_s": (_i, [_p, _u32]),
    "mtasts_ctx_set_refresh_jitter_s": (_i, [_p, _u32]),
    "mtasts_ctx_set_random_seed": (_i, [_p, ctypes.c_uint64]),
    "mtasts_cache_snapshot_new": (_i, [_p, _pp]),
    "mtasts_cache_snapshot_count": (_z, [_p]),
    "mtasts_cache_snapshot_domain": (_s, [_p, _z]),
    "mtasts_cache_snapshot_txt_id": (_s, [_p, _z]),
    "mtasts_cache_snapshot_policy": (_p, [_p, _z]),
    "mtasts_cache_snapshot_mode": (_i, [_p, _z]),
    "mtasts_cache_snapshot_fetched_at": (_i64, [_p, _z]),
    "mtasts_cache_snapshot_expires": (_i64, [_p, _z]),
    "mtasts_cache_snapshot_last_used": (_i64, [_p, _z]),
    "mtasts_cache_snapshot_free": (None, [_p]),
    "mtasts_cache_remove": (_i, [_p, _s]),
    "mtasts_cache_clear": (_i, [_p, _szp]),
    "mtasts_cache_remove_idle": (_i, [_p, _szp]),
    "mtasts_cache_save": (_i, [_p, _s]),
    "mtasts_cache_load": (_i, [_p, _s, _perr]),
    "mtasts_cache_due": (_i, [_p, _u32, _u32, _u32, _pp]),
    "mtasts_refresh": (_i, [_p, _s, _pp]),
    "mtasts_ctx_set_store_hooks": (_i, [_p, STORE_GET_FN, STORE_PUT_FN,
                                        STORE_DELETE_FN, _p]),
    "mtasts_result_store_status": (_i, [_p]),
    # TLS reporting. Reports come back through void ** (not char **) so
    # that ctypes does not convert them: they are read with string_at and
    # freed with mtasts_rpt_free.
    "mtasts_rpt_record": (_i, [_p, _p, _p, _s, _u32]),
    "mtasts_rpt_json": (_i, [_p, _s, _i64, _s, _s, _pp, _szp]),
    "mtasts_rpt_gzip": (_i, [_p, _s, _i64, _s, _s, _pp, _szp,
                             ctypes.c_char_p]),
    "mtasts_rpt_mail": (_i, [_p, _s, _i64, _s, _s, _s, _pp, _szp]),
    "mtasts_rpt_save": (_i, [_p, _s]),
    "mtasts_rpt_load": (_i, [_p, _s, _perr]),
    "mtasts_rpt_expire": (_z, [_p, _i64]),
    "mtasts_rpt_free": (None, [_p]),
    # Report delivery
    "mtasts_rpt_post": (_i, [_p, _s, _i64, _s, _s, _s,
                             ctypes.POINTER(ctypes.c_uint), ctypes.c_char_p,
                             _z]),
    "mtasts_ctx_set_rpt_https_verify": (_i, [_p, _b]),
    "mtasts_rpt_retry_next": (_i, [_i64, _u32, _i64, ctypes.c_uint64,
                                   ctypes.POINTER(ctypes.c_int64)]),
    "mtasts_rpt_send_time": (_i64, [_i64, ctypes.c_uint64]),
}

for _name, (_res, _args) in _PROTOTYPES.items():
    _fn = getattr(lib, _name)
    _fn.restype = _res
    _fn.argtypes = _args

if lib.mtasts_version() < MIN_VERSION_NUM:
    raise ImportError("mtasts: the loaded libmtasts is "
                      + lib.mtasts_version_string().decode()
                      + ", older than this binding supports")


def text(ptr):
    """A C string the library returned (static or borrowed), as str.

    Everything the library returns as a string is ASCII (names, ids,
    reasons built from validated input), so decoding cannot fail; a
    surrogate escape keeps any stray byte visible rather than raising.
    """
    if ptr is None:
        return None
    return ptr.decode("ascii", "surrogateescape")
