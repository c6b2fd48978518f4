"""The data phase of an external plugin's ``connect``: a :class:`~distant_manager.ServerLink`
over the child's stdio.

After ``{"ready": true}`` both directions carry binary frames (§2: a u64 big-endian length,
then the item), each item a positional msgpack envelope (§6): requests to the plugin's stdin,
responses from its stdout. There is no handshake, encryption or authentication on this link
(the child is ours, over private pipes). Empty frames are heartbeats and are skipped; we send
none and require none: a plugin may stay silent for as long as it likes.

The link ends when the plugin closes its stdout or exits (``close_reason`` says how), when it
sends a malformed or oversized frame (the plugin is then stopped), or when the manager closes
it. Ending the link stops the plugin's process group and reaps it.
"""

from __future__ import annotations

import logging

import anyio
import anyio.abc

from distant_codec import CodecError, FrameDecoder, encode_frame
from distant_net import ConnectionClosed

from .external_process import LOGGER_NAME, READ_SIZE, describe_exit, terminate
from .external_setup import EXIT_WAIT

__all__ = ["ProcessLink", "MAX_FRAME_SIZE"]

log = logging.getLogger(LOGGER_NAME)

MAX_FRAME_SIZE = 64 * 1024 * 1024
"""The largest frame a plugin may send (its header is checked before anything is
allocated)."""

_FRAME_BUFFER = 16
"""Frames read ahead of the manager (then reading pauses: backpressure on the plugin)."""


class ProcessLink:
    """Frames to and from a plugin process. Run :meth:`pump` in a task for reading."""

    def __init__(
        self,
        plugin: str,
        process: anyio.abc.Process,
        leftover: bytes = b"",
        *,
        max_frame_size: int = MAX_FRAME_SIZE,
    ) -> None:
        self.plugin = plugin
        self._process = process
        self._decoder = FrameDecoder(max_frame_size)
        self._decoder.feed(leftover)
        self._frames_in, self._frames_out = anyio.create_memory_object_stream[bytes](_FRAME_BUFFER)
        self._send_lock = anyio.Lock()
        self._reason: str | None = None
        self._pump_scope = anyio.CancelScope()
        self.stopped = anyio.Event()
        """Set once the plugin process is stopped and reaped."""

    def __repr__(self) -> str:
        return f"ProcessLink(plugin={self.plugin!r}, pid={self._process.pid})"

    # -- ServerLink --------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._reason is not None

    @property
    def close_reason(self) -> str | None:
        return self._reason

    async def send(self, item: bytes) -> None:
        if self._reason is not None:
            raise ConnectionClosed(self._reason)
        stdin = self._process.stdin
        assert stdin is not None
        try:
            # Shielded: a frame cut halfway (a cancelled request) would desynchronise the
            # plugin's stdin for every other channel of this connection.
            async with self._send_lock:
                with anyio.CancelScope(shield=True):
                    await stdin.send(encode_frame(item))
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            reason = self._reason or f"plugin {self.plugin!r} stopped reading its stdin"
            raise ConnectionClosed(reason) from None

    def __aiter__(self) -> ProcessLink:
        return self

    async def __anext__(self) -> bytes:
        try:
            return await self._frames_out.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            raise StopAsyncIteration from None

    async def aclose(self, reason: str = "closed") -> None:
        """Close the link and stop the plugin (idempotent)."""
        if self._reason is None:
            self._reason = reason
        self._pump_scope.cancel()
        self._frames_in.close()
        await self._stop()

    # -- reading -----------------------------------------------------------------------------

    async def pump(self) -> None:
        """Read frames from the plugin's stdout until EOF, garbage, or :meth:`aclose`."""
        stdout = self._process.stdout
        assert stdout is not None
        reason: str | None = None
        with self._pump_scope:
            try:
                await self._deliver()  # frames that came with the ready line
                while True:
                    try:
                        chunk = await stdout.receive(max(READ_SIZE, self._decoder.needed))
                    except (
                        anyio.EndOfStream,
                        anyio.ClosedResourceError,
                        anyio.BrokenResourceError,
                    ):
                        break
                    self._decoder.feed(chunk)
                    await self._deliver()
                reason = await self._exit_reason()
            except CodecError as exc:
                log.warning("plugin %r sent a bad frame: %s", self.plugin, exc)
                reason = f"plugin {self.plugin!r} sent a bad frame: {exc}"
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                reason = None  # the manager closed the link meanwhile
        if reason is not None and self._reason is None:
            log.info("%s", reason)
            self._reason = reason
        self._frames_in.close()
        await self._stop()

    async def _deliver(self) -> None:
        for frame in self._decoder:
            if frame:  # empty frames are heartbeats
                await self._frames_in.send(frame)

    async def _exit_reason(self) -> str:
        with anyio.move_on_after(EXIT_WAIT):
            await self._process.wait()
        if self._process.returncode is None:
            return f"plugin {self.plugin!r} closed its stdout"
        return f"plugin {self.plugin!r} {describe_exit(self._process.returncode)}"

    async def _stop(self) -> None:
        with anyio.CancelScope(shield=True):
            await terminate(self._process)
        self.stopped.set()
