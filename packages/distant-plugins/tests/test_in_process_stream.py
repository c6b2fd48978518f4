"""handoff_stream_pair: the in-process link's byte stream (anyio stream semantics, buffers
handed over without copies, flow control by a byte limit), and large frames through
serve_api over it."""

from __future__ import annotations

import os
from typing import Any

import anyio
import pytest

from distant_codec import MSG_EXTENDED_REQUEST, MSG_EXTENDED_RESPONSE, Msg, Request, Response
from distant_codec import extensions as ex
from distant_codec import responses as rs
from distant_plugins.in_process import handoff_stream_pair, serve_api
from distant_server import Api, ApiContext

pytestmark = pytest.mark.anyio


async def test_bytes_cross_in_order_and_whole_buffers_are_handed_over() -> None:
    a, b = handoff_stream_pair()
    frame = bytearray(b"x" * 100)
    await a.send(b"one")
    await a.send(frame)
    assert await b.receive() == b"one"
    got: object = await b.receive()
    assert got is frame  # not copied
    await b.send(b"back")
    assert await a.receive() == b"back"


async def test_receive_returns_at_most_max_bytes_and_keeps_the_rest() -> None:
    a, b = handoff_stream_pair()
    await a.send(b"abcdefgh")
    assert await b.receive(3) == b"abc"
    assert await b.receive(3) == b"def"
    assert await b.receive(100) == b"gh"
    with pytest.raises(ValueError):
        await b.receive(0)


async def test_memoryviews_are_copied_so_the_sender_may_reuse_its_buffer() -> None:
    a, b = handoff_stream_pair()
    source = bytearray(b"before")
    await a.send(memoryview(source))
    source[:] = b"after!"
    assert bytes(await b.receive()) == b"before"


async def test_eof_close_and_broken_peer() -> None:
    a, b = handoff_stream_pair()
    await a.send(b"last")
    await a.send_eof()
    assert await b.receive() == b"last"
    with pytest.raises(anyio.EndOfStream):
        await b.receive()
    with pytest.raises(anyio.ClosedResourceError):
        await a.send(b"after eof")
    await b.send(b"still open this way")  # half-closed: the other direction works
    assert await a.receive() == b"still open this way"
    await b.aclose()
    with pytest.raises(anyio.ClosedResourceError):
        await b.receive()
    with pytest.raises(anyio.EndOfStream):
        await a.receive()

    c, d = handoff_stream_pair()
    await d.aclose()
    with pytest.raises(anyio.BrokenResourceError):
        await c.send(b"nobody reads")


async def test_send_waits_while_the_peer_holds_the_limit_unread() -> None:
    a, b = handoff_stream_pair(limit=10)
    await a.send(b"0123456789")  # fills the limit
    sent = anyio.Event()

    async def sender() -> None:
        await a.send(b"more")
        sent.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(sender)
        await anyio.wait_all_tasks_blocked()
        assert not sent.is_set()
        assert await b.receive(4) == b"0123"  # below the limit again
        with anyio.fail_after(5):
            await sent.wait()
    assert await b.receive() == b"456789"
    assert await b.receive() == b"more"


async def test_a_receive_waiting_for_data_wakes_on_close() -> None:
    a, b = handoff_stream_pair()

    async def closer() -> None:
        await anyio.wait_all_tasks_blocked()
        await a.aclose()

    async with anyio.create_task_group() as tg:
        tg.start_soon(closer)
        with anyio.fail_after(5), pytest.raises(anyio.EndOfStream):
            await b.receive()


class BigFrames(Api):
    """file_write_range stores the data; file_read_range returns a slice of it."""

    def __init__(self) -> None:
        self.data = b""

    async def file_write_range(self, ctx: ApiContext, req: ex.FileWriteRange) -> rs.Ok:
        self.data = bytes(req.data)
        return rs.Ok()

    async def file_read_range(self, ctx: ApiContext, req: ex.FileReadRange) -> ex.FileChunk:
        piece = self.data[req.offset : req.offset + req.length]
        return ex.FileChunk(req.offset, piece, req.offset + len(piece) >= len(self.data), None)


async def test_large_frames_cross_serve_api_whole_among_small_ones() -> None:
    """Large frames take the framed transport's handoff path (header and item as two
    buffers, the item taken whole); small ones the usual one. Both directions, mixed."""
    content = os.urandom(3 * 1024 * 1024 + 17)
    async with serve_api(BigFrames()) as link:
        write: Msg[Any] = Msg.single(ex.FileWriteRange("/f", 0, content))
        await link.send(Request(write, "w").to_bytes(MSG_EXTENDED_REQUEST))
        ranges = {"a": (0, 2 * 1024 * 1024), "b": (5, 10), "c": (1024, 70_000), "d": (3, 100)}
        for rid, (offset, length) in ranges.items():
            read: Msg[Any] = Msg.single(ex.FileReadRange("/f", offset, length))
            await link.send(Request(read, rid).to_bytes(MSG_EXTENDED_REQUEST))
        got: dict[str, object] = {}
        with anyio.fail_after(10):
            async for item in link:
                response = Response.from_bytes(item, MSG_EXTENDED_RESPONSE)
                got[response.origin_id] = response.payload.items[0]
                if len(got) == len(ranges) + 1:
                    break
    assert got["w"] == rs.Ok()
    for rid, (offset, length) in ranges.items():
        chunk = got[rid]
        assert isinstance(chunk, ex.FileChunk)
        assert chunk.data == content[offset : offset + length], rid
