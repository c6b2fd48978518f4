"""Connections the manager holds, and the channels multiplexed over them (§9.4).

Requests on channel ``c`` go to the server with their id rewritten to ``"c_<id>"``; the
server's responses come back with that ``origin_id``, are routed to channel ``c`` and get
their ``origin_id`` restored. Responses for unknown channels, or without a prefix, are
dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import anyio

from distant_codec import CodecError, UntypedRequest, UntypedResponse, packb
from distant_net import ReplyTooLarge

from .plugin import ServerLink

__all__ = ["ChannelSink", "ManagedConnection"]

log = logging.getLogger("distant_manager.connections")

Deliver = Callable[[UntypedResponse], Awaitable[None]]


@dataclass(eq=False)
class ChannelSink:
    """Where the responses of one channel go. ``deliver`` raising ends the channel."""

    id: int
    connection_id: int
    deliver: Deliver
    on_close: Callable[[], Awaitable[None]] | None = None


@dataclass(eq=False)
class ManagedConnection:
    id: int
    destination: str
    options: dict[str, str]
    link: ServerLink
    channels: dict[int, ChannelSink] = field(default_factory=dict)
    tunnels: set[int] = field(default_factory=set)
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    done: anyio.Event = field(default_factory=anyio.Event)

    async def send(self, channel_id: int, request: UntypedRequest) -> None:
        rewritten = UntypedRequest(f"{channel_id}_{request.id}", request.payload, request.header)
        await self.link.send(rewritten.to_bytes())

    async def route(self) -> None:
        """Deliver the server's responses to their channels until the link closes."""
        async for item in self.link:
            try:
                response = UntypedResponse.from_bytes(item)
            except CodecError as exc:
                log.warning("connection %d: dropping a bad response: %s", self.id, exc)
                continue
            prefix, sep, rest = response.origin_id.partition("_")
            sink = self.channels.get(int(prefix)) if sep and prefix.isdigit() else None
            if sink is None:
                log.debug("connection %d: no channel for %r", self.id, response.origin_id)
                continue
            restored = UntypedResponse(response.id, rest, response.payload, response.header)
            try:
                await sink.deliver(restored)
            except ReplyTooLarge as exc:  # re-wrapped, it no longer fits: say so instead
                log.warning("connection %d: channel %d: %s", self.id, sink.id, exc)
                await self._deliver_or_drop(sink, _too_large(restored, exc))
            except Exception as exc:  # the channel's client is gone: the channel ends
                log.info("connection %d: channel %d closed: %s", self.id, sink.id, exc)
                self.channels.pop(sink.id, None)

    async def _deliver_or_drop(self, sink: ChannelSink, response: UntypedResponse) -> None:
        try:
            await sink.deliver(response)
        except Exception as exc:
            log.info("connection %d: channel %d closed: %s", self.id, sink.id, exc)
            self.channels.pop(sink.id, None)


def _too_large(response: UntypedResponse, exc: ReplyTooLarge) -> UntypedResponse:
    """An ``error`` in place of a response the client's link cannot carry, so that the
    client waiting for it hears something."""
    error = {"type": "error", "kind": "other", "description": f"response dropped: {exc}"}
    return UntypedResponse(response.id, response.origin_id, packb(error), response.header)
