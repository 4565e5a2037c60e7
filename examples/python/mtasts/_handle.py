"""The life cycle shared by the objects that own a library handle."""

from . import errors


class Handle:
    """Owns one library handle (``_ptr``) and releases it exactly once: by
    :meth:`close`, on leaving a ``with`` block, or when the object is
    garbage collected. Subclasses set ``_release`` (the C function that
    frees or unrefs, as a staticmethod: it stays reachable from the class
    even at interpreter exit, when module globals may already be gone) and
    ``_what`` (a name for messages)."""

    __slots__ = ("_ptr", "__weakref__")
    _what = "handle"
    _release = None

    def close(self):
        """Release the handle (idempotent)."""
        ptr, self._ptr = getattr(self, "_ptr", None), None
        if ptr is not None:
            self._release(ptr)

    def __del__(self):
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def closed(self):
        return self._ptr is None

    def _handle(self):
        """The handle, for a call; a closed object raises."""
        if self._ptr is None:
            raise errors.InvalidArgument(
                errors.Status.ERR_INVALID,
                message=f"the {self._what} is closed")
        return self._ptr
