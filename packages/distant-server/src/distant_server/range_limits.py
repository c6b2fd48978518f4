"""The server side's limits for the ``fs_range`` extension, shared by every Api that
implements it (the host here; ssh and docker in distant-plugins), so they all bound memory
and offsets the same way.

* a ``file_read_range`` reply carries at most :data:`MAX_RANGE_LENGTH` bytes (a longer
  ``length`` gets a short chunk: continue from ``offset + len(data)``), so it fits one
  frame of the default size limit with room for the envelope;
* offsets above :data:`MAX_OFFSET` are invalid (the kernel's ``loff_t`` is signed);
* a connection holds at most :data:`REPLY_BUDGET` bytes of read-but-unsent chunks
  (:class:`ReplyBudget`), whatever the client's pipelining.
"""

from __future__ import annotations

import hashlib

import anyio

from distant_codec import DEFAULT_MAX_ITEM_SIZE, ErrorKind

from .errors import ApiError

__all__ = [
    "MAX_OFFSET",
    "MAX_RANGE_LENGTH",
    "REPLY_BUDGET",
    "ReplyBudget",
    "check_offset",
    "check_sha256",
]

MAX_OFFSET = 2**63 - 1
"""The largest file offset the kernel accepts (``loff_t`` is signed)."""

MAX_RANGE_LENGTH = DEFAULT_MAX_ITEM_SIZE - 64 * 1024
"""The most bytes one ``file_read_range`` returns: 16 MiB minus 64 KiB of headroom."""

REPLY_BUDGET = 16 * 1024 * 1024
"""Bytes of range replies one connection may have read but not yet sent."""


def check_offset(offset: int, path: str) -> None:
    """``invalid_input`` for an offset no file can have."""
    if offset > MAX_OFFSET:
        raise ApiError(ErrorKind.INVALID_INPUT, f"offset {offset} is too large: {path}")


def check_sha256(data: bytes, sha256: str | None, path: str) -> None:
    """``file_write_range``'s integrity check, before anything is written: ``invalid_data``
    when ``data`` does not hash to ``sha256`` (hex, any case)."""
    if sha256 is None:
        return
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256.strip().lower():
        raise ApiError(
            ErrorKind.INVALID_DATA,
            f"sha256 mismatch (expected {sha256}, got {actual}), nothing written: {path}",
        )


class ReplyBudget:
    """Bounds the chunk data a connection holds between reading it and sending it.

    A client may ask for many large ranges at once; each is read only once its bytes fit
    in the budget, and they are given back once its reply has been sent, so the server's
    memory stays bounded whatever the client's pipelining. A per-connection resource
    (``ctx.connection.resource(ReplyBudget)``).
    """

    def __init__(self, limit: int = REPLY_BUDGET) -> None:
        self.limit = limit
        self.used = 0
        self._freed = anyio.Event()

    async def acquire(self, amount: int) -> None:
        amount = min(amount, self.limit)  # one request larger than the budget still runs
        while self.used and self.used + amount > self.limit:
            await self._freed.wait()
        self.used += amount

    def release(self, amount: int) -> None:
        self.used -= min(amount, self.limit)
        self._freed.set()
        self._freed = anyio.Event()

    async def aclose(self) -> None:
        self._freed.set()
