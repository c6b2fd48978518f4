"""Synchronize (§5.4): after a reconnection, each side resends what the other missed.

Both sides send ``[sent, received, available]`` first, then read the peer's triple; each
resends its newest ``min(sent - peer_received, available)`` items while reading the
``min(peer_sent - received, peer_available)`` items it is owed. Resending and reading run
concurrently so that two large replays cannot deadlock on full socket buffers. Frames
exchanged here (the triples) are not counted; the replayed items are counted on receipt
like any other.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio

from distant_codec import CodecError, packb, unpackb

from .framed import FramedTransport
from .replay import ReplayBuffer, SyncState

__all__ = ["synchronize"]

_BATCH_BYTES = 1024 * 1024


def _parse_state(item: bytes) -> SyncState:
    obj = unpackb(item)
    if (
        type(obj) is not list
        or len(obj) != 3
        or not all(type(x) is int and 0 <= x < 2**64 for x in obj)
    ):
        raise CodecError("synchronize: expected [sent, received, available] as three u64s")
    return SyncState(*obj)


async def _receive_item(transport: FramedTransport) -> bytes:
    while True:
        item = await transport.receive_frame()
        if item:  # skip heartbeats
            return item


def _first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first plain error in ``group`` (cancellations only when there is nothing else)."""
    errors, _ = group.split(Exception)
    leaf: BaseException = errors if errors is not None else group
    while isinstance(leaf, BaseExceptionGroup):
        leaf = leaf.exceptions[0]
    return leaf


async def synchronize(
    transport: FramedTransport,
    replay: ReplayBuffer,
    deliver: Callable[[bytes], Awaitable[None]],
) -> SyncState:
    """Run synchronize on a freshly re-established link; returns the peer's triple."""
    await transport.send_frame(packb(replay.state().to_list()))
    peer = _parse_state(await _receive_item(transport))
    resend = replay.to_resend(peer)
    expect = replay.to_expect(peer)

    async def send_all() -> None:
        batch: list[bytes] = []
        size = 0
        for item in resend:
            batch.append(item)
            size += len(item)
            if size >= _BATCH_BYTES:
                await transport.send_frames(batch)
                batch, size = [], 0
        if batch:
            await transport.send_frames(batch)

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(send_all)
            for _ in range(expect):
                item = await _receive_item(transport)
                await deliver(item)
                replay.record_received()
    except BaseExceptionGroup as group:
        # A task group wraps even a single failure; callers expect the plain transport or
        # codec error of a broken link (and would let a group escape and crash the server).
        raise _first_error(group) from None
    replay.finish_sync(peer)
    replay.acknowledge(peer.received)
    return peer
