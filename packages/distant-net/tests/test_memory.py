"""The in-memory byte streams, on both anyio backends (trio's conformance suite runs over them in
test_transport.py)."""

from __future__ import annotations

import random

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distant_net.memory import (
    DEFAULT_MAX_BUFFER_SIZE,
    MemoryByteStream,
    memory_pipe,
    memory_stream_pair,
)

pytestmark = pytest.mark.anyio


async def _receive_exactly(stream: MemoryByteStream, size: int) -> bytes:
    got = bytearray()
    while len(got) < size:
        got += await stream.receive(size - len(got))
    return bytes(got)


async def _nothing_to_receive(stream: MemoryByteStream) -> bool:
    """True if ``receive()`` would block (it is cancelled after the other tasks settle)."""
    with anyio.move_on_after(0.05):
        await stream.receive()
        return False
    return True


async def test_send_receive_both_ways() -> None:
    a, b = memory_stream_pair()
    assert isinstance(a, anyio.abc.ByteStream)
    await a.send(b"hello")
    assert await b.receive() == b"hello"
    await b.send(b"world")
    assert await a.receive() == b"world"


async def test_ordering_with_random_chunk_sizes_duplex() -> None:
    rng = random.Random(1234)
    forward = rng.randbytes(1 << 20)
    backward = rng.randbytes(700_001)
    a, b = memory_stream_pair(max_buffer_size=4096)

    async def send(stream: MemoryByteStream, data: bytes, seed: int) -> None:
        r = random.Random(seed)
        view = memoryview(data)
        while view:
            size = r.randint(1, 20_000)
            await stream.send(view[:size])
            view = view[size:]
        await stream.send_eof()

    async def receive(stream: MemoryByteStream, expected: bytes, seed: int) -> None:
        r = random.Random(seed)
        got = bytearray()
        while True:
            max_bytes = r.randint(1, 20_000)
            try:
                chunk = await stream.receive(max_bytes)
            except anyio.EndOfStream:
                break
            assert 0 < len(chunk) <= max_bytes
            got += chunk
        assert got == expected

    async with anyio.create_task_group() as tg:
        tg.start_soon(send, a, forward, 1)
        tg.start_soon(send, b, backward, 2)
        tg.start_soon(receive, b, forward, 3)
        tg.start_soon(receive, a, backward, 4)


async def test_receive_returns_at_most_max_bytes_and_coalesces() -> None:
    a, b = memory_stream_pair()
    await a.send(b"abc")
    await a.send(bytearray(b"def"))
    await a.send(memoryview(b"ghi"))
    assert await b.receive(2) == b"ab"
    assert await b.receive() == b"cdefghi"  # what is buffered comes out in one piece


async def test_send_copies_the_buffer() -> None:
    a, b = memory_stream_pair()
    data = bytearray(b"original")
    await a.send(data)
    data[:] = b"mutated!"
    assert await b.receive() == b"original"


async def test_receive_rejects_bad_max_bytes() -> None:
    _a, b = memory_stream_pair()
    with pytest.raises(ValueError):
        await b.receive(0)
    with pytest.raises(ValueError):
        await b.receive(-1)
    with pytest.raises(TypeError):
        await b.receive(1.5)  # type: ignore[arg-type]


async def test_zero_length_send_sends_nothing() -> None:
    a, b = memory_stream_pair()
    await a.send(b"")
    assert await _nothing_to_receive(b)
    await a.send_eof()
    with pytest.raises(anyio.EndOfStream):
        await b.receive()


async def test_send_eof_then_end_of_stream_after_the_data() -> None:
    a, b = memory_stream_pair()
    await a.send(b"last words")
    await a.send_eof()
    await a.send_eof()  # repeating it is harmless
    assert await b.receive(4) == b"last"
    assert await b.receive() == b" words"
    for _ in range(2):  # and it stays at end-of-stream
        with pytest.raises(anyio.EndOfStream):
            await b.receive()
    # we may not send any more, but the other direction still works
    with pytest.raises(anyio.ClosedResourceError):
        await a.send(b"more")
    with pytest.raises(anyio.ClosedResourceError):
        await a.send(b"")
    await b.send(b"reply")
    assert await a.receive() == b"reply"


async def test_close_semantics() -> None:
    a, b = memory_stream_pair()
    await a.send(b"buffered")
    await a.aclose()
    await a.aclose()  # idempotent
    for operation in (a.send(b"x"), a.send(b""), a.receive(), a.send_eof()):
        with pytest.raises(anyio.ClosedResourceError):
            await operation
    # the peer reads what was sent, then end-of-stream
    assert await b.receive() == b"buffered"
    with pytest.raises(anyio.EndOfStream):
        await b.receive()
    # and sending to a closed peer is broken (every time)
    for _ in range(2):
        with pytest.raises(anyio.BrokenResourceError):
            await b.send(b"anyone?")


async def test_closing_discards_unread_data() -> None:
    a, b = memory_stream_pair(max_buffer_size=8)
    await a.send(b"12345678")
    await b.aclose()
    with pytest.raises(anyio.BrokenResourceError):
        await a.send(b"9")


async def test_blocked_receive_wakes_on_local_close() -> None:
    _a, b = memory_stream_pair()
    async with anyio.create_task_group() as tg:

        async def receive() -> None:
            with pytest.raises(anyio.ClosedResourceError):
                await b.receive()

        tg.start_soon(receive)
        await anyio.wait_all_tasks_blocked()
        await b.aclose()


async def test_blocked_receive_wakes_on_peer_close() -> None:
    a, b = memory_stream_pair()
    async with anyio.create_task_group() as tg:

        async def receive() -> None:
            with pytest.raises(anyio.EndOfStream):
                await b.receive()

        tg.start_soon(receive)
        await anyio.wait_all_tasks_blocked()
        await a.aclose()


@pytest.mark.parametrize(
    ("close_local", "expected"),
    [(True, anyio.ClosedResourceError), (False, anyio.BrokenResourceError)],
    ids=["local-close", "peer-close"],
)
async def test_blocked_send_wakes_on_close(close_local: bool, expected: type[Exception]) -> None:
    a, b = memory_stream_pair(max_buffer_size=4)
    async with anyio.create_task_group() as tg:

        async def send() -> None:
            with pytest.raises(expected):
                await a.send(b"0123456789")

        tg.start_soon(send)
        await anyio.wait_all_tasks_blocked()
        await (a if close_local else b).aclose()


async def test_concurrent_receives_are_busy() -> None:
    a, b = memory_stream_pair()
    async with anyio.create_task_group() as tg:
        tg.start_soon(b.receive)
        await anyio.wait_all_tasks_blocked()
        with pytest.raises(anyio.BusyResourceError):
            await b.receive()
        await a.send(b"x")  # lets the first receive finish


async def test_concurrent_sends_and_send_eof_are_busy() -> None:
    a, b = memory_stream_pair(max_buffer_size=4)
    async with anyio.create_task_group() as tg:
        tg.start_soon(a.send, b"0123456789")
        await anyio.wait_all_tasks_blocked()
        with pytest.raises(anyio.BusyResourceError):
            await a.send(b"x")
        with pytest.raises(anyio.BusyResourceError):
            await a.send_eof()
        assert await _receive_exactly(b, 10) == b"0123456789"


async def test_flow_control_blocks_until_the_peer_reads() -> None:
    a, b = memory_stream_pair(max_buffer_size=16)
    done = anyio.Event()

    async def send() -> None:
        await a.send(bytes(range(100)))
        done.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(send)
        await anyio.wait_all_tasks_blocked()
        assert not done.is_set()
        # no more than max_buffer_size bytes are ever buffered
        assert await b.receive(1000) == bytes(range(16))
        await anyio.wait_all_tasks_blocked()
        assert not done.is_set()
        rest = await _receive_exactly(b, 84)
        assert rest == bytes(range(16, 100))
        await done.wait()


async def test_send_at_exactly_the_limit_does_not_block() -> None:
    a, b = memory_stream_pair(max_buffer_size=16)
    with anyio.fail_after(1):
        await a.send(b"x" * 16)
    with anyio.move_on_after(0.05) as scope:
        await a.send(b"y")
    assert scope.cancelled_caught  # the 17th byte waits for the reader
    assert await b.receive() == b"x" * 16


async def test_wait_send_might_not_block() -> None:
    a, b = memory_stream_pair(max_buffer_size=4)
    await a.wait_send_might_not_block()  # room: returns at once
    await a.send(b"1234")
    woke = anyio.Event()

    async def wait() -> None:
        await a.wait_send_might_not_block()
        woke.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(wait)
        await anyio.wait_all_tasks_blocked()
        assert not woke.is_set()
        await b.receive(1)
        await woke.wait()


async def test_cancelled_receive_loses_nothing() -> None:
    a, b = memory_stream_pair()
    with anyio.CancelScope() as scope:
        scope.cancel()
        await b.receive()
    await a.send(b"data")
    assert await b.receive() == b"data"


async def test_cancelled_send_sends_nothing_when_cancelled_before_start() -> None:
    a, b = memory_stream_pair()
    with anyio.CancelScope() as scope:
        scope.cancel()
        await a.send(b"never")
    await a.send_eof()
    with pytest.raises(anyio.EndOfStream):
        await b.receive()


async def test_memory_pipe_one_way() -> None:
    send, receive = memory_pipe(max_buffer_size=8)
    assert isinstance(send, anyio.abc.ByteSendStream)
    assert isinstance(receive, anyio.abc.ByteReceiveStream)
    await send.send(b"one way")
    await send.aclose()
    assert await receive.receive() == b"one way"
    with pytest.raises(anyio.EndOfStream):
        await receive.receive()


async def test_bad_buffer_size() -> None:
    with pytest.raises(ValueError):
        memory_stream_pair(0)
    assert DEFAULT_MAX_BUFFER_SIZE == 65536


async def test_async_context_manager_closes() -> None:
    a, b = memory_stream_pair()
    async with a:
        await a.send(b"x")
    assert a.closed
    assert await b.receive() == b"x"
    with pytest.raises(anyio.EndOfStream):
        await b.receive()


# ---------------------------------------------------------------------------------------------
# Hypothesis: whatever the chunking and buffer size, both directions deliver the bytes in order.
# ---------------------------------------------------------------------------------------------

_chunks = st.lists(st.binary(min_size=0, max_size=3000), max_size=30)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@settings(max_examples=60, deadline=None)
@given(
    forward=_chunks,
    backward=_chunks,
    receive_sizes=st.lists(st.integers(1, 5000), min_size=1, max_size=10),
    max_buffer_size=st.integers(1, 8192),
)
def test_fuzz_chunks_both_directions(
    backend: str,
    forward: list[bytes],
    backward: list[bytes],
    receive_sizes: list[int],
    max_buffer_size: int,
) -> None:
    async def main() -> None:
        a, b = memory_stream_pair(max_buffer_size)
        received: dict[str, bytes] = {}

        async def send(stream: MemoryByteStream, chunks: list[bytes]) -> None:
            for chunk in chunks:
                await stream.send(chunk)
            await stream.send_eof()

        async def receive(stream: MemoryByteStream, name: str) -> None:
            got = bytearray()
            i = 0
            while True:
                size = receive_sizes[i % len(receive_sizes)]
                i += 1
                try:
                    chunk = await stream.receive(size)
                except anyio.EndOfStream:
                    break
                assert 0 < len(chunk) <= size
                got += chunk
            received[name] = bytes(got)

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                tg.start_soon(send, a, forward)
                tg.start_soon(send, b, backward)
                tg.start_soon(receive, b, "forward")
                tg.start_soon(receive, a, "backward")
        assert received == {"forward": b"".join(forward), "backward": b"".join(backward)}

    anyio.run(main, backend=backend)
