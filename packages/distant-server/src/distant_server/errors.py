"""Errors of API operations and their mapping to the protocol's ``Error`` (§7.2, §7.5)."""

from __future__ import annotations

import errno
import os

from distant_codec import Error, ErrorKind

__all__ = ["ApiError", "decode_utf8", "error_from_exception", "kind_of_errno", "unsupported"]


class ApiError(Exception):
    """An operation failed with a protocol error kind and a description for the user."""

    def __init__(self, kind: ErrorKind, description: str) -> None:
        super().__init__(description)
        self.kind = kind
        self.description = description

    def to_error(self) -> Error:
        return Error(self.kind, self.description)


def unsupported(operation: str) -> ApiError:
    """What every operation of the default :class:`~distant_server.api.Api` raises."""
    return ApiError(ErrorKind.UNSUPPORTED, f"{operation} is unsupported")


_ERRNO_KINDS: dict[int, ErrorKind] = {
    errno.ENOENT: ErrorKind.NOT_FOUND,
    errno.EACCES: ErrorKind.PERMISSION_DENIED,
    errno.EPERM: ErrorKind.PERMISSION_DENIED,
    errno.EROFS: ErrorKind.PERMISSION_DENIED,
    errno.ECONNREFUSED: ErrorKind.CONNECTION_REFUSED,
    errno.ECONNRESET: ErrorKind.CONNECTION_RESET,
    errno.ECONNABORTED: ErrorKind.CONNECTION_ABORTED,
    errno.ENOTCONN: ErrorKind.NOT_CONNECTED,
    errno.EADDRINUSE: ErrorKind.ADDR_IN_USE,
    errno.EADDRNOTAVAIL: ErrorKind.ADDR_NOT_AVAILABLE,
    errno.EPIPE: ErrorKind.BROKEN_PIPE,
    errno.EEXIST: ErrorKind.ALREADY_EXISTS,
    errno.EAGAIN: ErrorKind.WOULD_BLOCK,
    errno.EINVAL: ErrorKind.INVALID_INPUT,
    errno.ETIMEDOUT: ErrorKind.TIMED_OUT,
    errno.EINTR: ErrorKind.INTERRUPTED,
    errno.ENOMEM: ErrorKind.OUT_OF_MEMORY,
    errno.ELOOP: ErrorKind.LOOP,
    errno.ENOTSUP: ErrorKind.UNSUPPORTED,
    errno.ENOSYS: ErrorKind.UNSUPPORTED,
}


def decode_utf8(data: bytes, path: str) -> str:
    """``data`` (the contents of ``path``) as text; ``invalid_data`` naming the first bad
    byte otherwise, as upstream's ``file_read_text`` answers."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(
            ErrorKind.INVALID_DATA,
            f"stream did not contain valid UTF-8 (byte {exc.start}): {path}",
        ) from None


def kind_of_errno(code: int | None) -> ErrorKind:
    """The protocol kind of an OS error number; kinds outside §7.5's list are ``unknown``."""
    if code is None:
        return ErrorKind.OTHER
    return _ERRNO_KINDS.get(code, ErrorKind.UNKNOWN)


def error_from_exception(exc: BaseException) -> Error:
    """The ``Error`` response for an exception raised by an operation.

    OS errors keep their kind and name the path(s) involved, e.g.
    ``No such file or directory: /tmp/missing``.
    """
    if isinstance(exc, ApiError):
        return exc.to_error()
    if isinstance(exc, OSError):
        text = exc.strerror or str(exc)
        paths = [os.fsdecode(p) for p in (exc.filename, exc.filename2) if p is not None]
        if paths:
            text = f"{text}: {' -> '.join(paths)}"
        return Error(kind_of_errno(exc.errno), text)
    if isinstance(exc, TimeoutError):
        return Error(ErrorKind.TIMED_OUT, str(exc) or "timed out")
    if isinstance(exc, UnicodeDecodeError):
        return Error(ErrorKind.INVALID_DATA, f"not valid UTF-8: {exc}")
    return Error(ErrorKind.OTHER, f"{type(exc).__name__}: {exc}")
