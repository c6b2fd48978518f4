"""Link cuts: 64 MiB each way through a proxy that keeps cutting the link (§5.3-5.4).

A real :class:`Server` and a real client (:func:`open_connection` with a backoff strategy)
talk through a loopback TCP proxy written here. The proxy forwards bytes both ways and, after
a number of forwarded bytes drawn from a seeded RNG, cuts the link: it closes both sockets of
the current pair at once, usually in the middle of a frame, sometimes with a RST. Some cuts
land inside a reconnection handshake or a synchronize.

Across all that, every chunk must arrive exactly once and in order in each direction:

* upload: the client sends 64 MiB as 1024 requests of 64 KiB; the server checks them in the
  order its connection delivers them (a recording request kind) and acknowledges each with
  its digest;
* download: the server streams 64 MiB as 1024 replies to one request; the client checks
  them in the order its connection delivers them, and again in mailbox order;
* every other message (each ack, the download request) must arrive exactly once.

Each side hashes what it sent and what it got; sequence numbers tell loss from duplication.
Set ``DISTANT_NET_CUT_SEED`` to replay a run.

Two targeted cuts follow: a partition (the proxy stops forwarding but closes nothing) while
the server is blocked writing, and a cut between the two halves of the new OTP's exchange.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import random
import socket
import struct
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

import anyio
import anyio.abc
import pytest

from distant_auth import SecretKey, StaticKeyHandler, Verifier
from distant_codec import Struct, TaggedUnion
from distant_codec.schema import U64, Bin
from distant_net import (
    Client,
    Connection,
    ConnectionInfo,
    ExponentialBackoff,
    FibonacciBackoff,
    ReconnectStrategy,
    RequestContext,
    Server,
    ServerSettings,
    SyncHandlerAdapter,
    open_connection,
)

pytestmark = pytest.mark.anyio

CHUNK = 64 * 1024
CHUNKS = 1024  # 64 MiB each way
MIN_CUTS = 20
MAX_CUTS = 60  # past this the proxy stops cutting, so a run always ends
UPLOAD_WINDOW = 32  # upload requests awaiting their ack
STALL = 30.0  # seconds without progress that fail the test
KEY = SecretKey.generate()
LINK_ERRORS = (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError, OSError)


# -- a tiny test protocol ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Chunk(Struct):
    TAG: ClassVar[str] = "chunk"
    seq: U64
    data: Bin


@dataclass(frozen=True, slots=True)
class Download(Struct):
    TAG: ClassVar[str] = "download"
    count: U64


@dataclass(frozen=True, slots=True)
class Ack(Struct):
    TAG: ClassVar[str] = "ack"
    seq: U64
    digest: Bin


class StreamCheck:
    """The receiving end of one direction: chunks must come exactly once, in order."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.next = 0
        self.hash = hashlib.sha256()
        self.errors: list[str] = []

    def feed(self, chunk: Chunk) -> None:
        if chunk.seq < self.next:
            self.errors.append(f"{self.name}: chunk {chunk.seq} duplicated (expected {self.next})")
        elif chunk.seq > self.next:
            self.errors.append(
                f"{self.name}: chunks {self.next}..{chunk.seq - 1} lost (got {chunk.seq})"
            )
        self.next = max(self.next, chunk.seq + 1)
        self.hash.update(chunk.data)


class RecordingUnion(TaggedUnion[Any]):
    """A kind that checks every message as the connection delivers it, in wire order
    (handlers and mailboxes come later, and server handlers run concurrently).

    Chunks go to ``chunks``; any other message must be seen at most once (a duplicated ack
    or download request would otherwise go unnoticed)."""

    def __init__(self, name: str, variants: list[type[Struct]], chunks: StreamCheck) -> None:
        super().__init__(name, variants)
        self.chunks = chunks
        self.seen: set[tuple[str, int]] = set()

    def from_obj(self, o: Any, path: str = "") -> Any:
        value = super().from_obj(o, path)
        if isinstance(value, Chunk):
            self.chunks.feed(value)
        else:
            key = (type(value).__name__, value.seq if isinstance(value, Ack) else -1)
            if key in self.seen:
                self.chunks.errors.append(f"{self.chunks.name}: {key} duplicated")
            self.seen.add(key)
        return value


REQUEST = TaggedUnion[Any]("TestRequest", [Chunk, Download])
RESPONSE = TaggedUnion[Any]("TestResponse", [Chunk, Ack])


class DataStream:
    """A deterministic stream of 64 KiB chunks, hashed as it is produced."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.hash = hashlib.sha256()

    def chunk(self, seq: int) -> Chunk:
        data = self.rng.randbytes(CHUNK)
        self.hash.update(data)
        return Chunk(seq, data)


class TransferHandler:
    def __init__(self, download_seed: int) -> None:
        self.download = DataStream(download_seed)

    async def on_connect(self, info: ConnectionInfo) -> None:
        return None

    async def on_request(self, ctx: RequestContext[Any, Any, None]) -> None:
        payload = ctx.request.payload
        if isinstance(payload, Chunk):
            await ctx.reply(Ack(payload.seq, hashlib.sha256(payload.data).digest()))
        else:
            for seq in range(payload.count):
                await ctx.reply(self.download.chunk(seq))

    async def on_disconnect(self, state: None) -> None:
        return None


# -- the cutting proxy ---------------------------------------------------------------------


@dataclass
class _Pair:
    streams: tuple[anyio.abc.SocketStream, anyio.abc.SocketStream]
    scope: anyio.CancelScope
    budget: int | None  # bytes left to forward before the cut; None: never cut
    forwarded: int = 0
    cut: bool = False
    frozen: bool = False


@dataclass
class CuttingProxy:
    """Forwards loopback TCP to ``target_port``; cuts each pair after a random byte count."""

    target_port: int
    rng: random.Random
    armed: bool = False
    cuts: int = 0
    small_cuts: int = 0  # cuts within the first few KiB of a pair (handshake, sync)
    rsts: int = 0
    pairs: int = 0
    log: list[str] = field(default_factory=list)
    _pairs: dict[int, _Pair] = field(default_factory=dict)

    def arm(self) -> None:
        """Start cutting, the pairs already open included."""
        self.armed = True
        for pair in self._pairs.values():
            pair.budget = self._draw()

    def disarm(self) -> None:
        self.armed = False
        for pair in self._pairs.values():
            pair.budget = None

    def freeze(self) -> None:
        """Stop forwarding on the pairs open now, without closing them (a partition)."""
        for pair in self._pairs.values():
            pair.frozen = True

    def _draw(self) -> int | None:
        if not self.armed or self.cuts >= MAX_CUTS:
            return None
        if self.rng.random() < 0.2:
            return self.rng.randrange(0, 4096)  # inside a handshake or a synchronize
        return self.rng.randrange(256 * 1024, 8 * 1024 * 1024)

    async def serve(
        self,
        listener: anyio.abc.Listener[anyio.abc.SocketStream],
        *,
        task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        async with listener:
            task_status.started()
            await listener.serve(self._handle)

    async def _handle(self, downstream: anyio.abc.SocketStream) -> None:
        try:
            upstream = await anyio.connect_tcp("127.0.0.1", self.target_port)
        except OSError:
            await downstream.aclose()
            return
        self.pairs += 1
        key = self.pairs
        pair = _Pair((downstream, upstream), anyio.CancelScope(), self._draw())
        self._pairs[key] = pair
        try:
            with pair.scope:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(self._pump, pair, downstream, upstream)
                    tg.start_soon(self._pump, pair, upstream, downstream)
        finally:
            del self._pairs[key]
            with anyio.CancelScope(shield=True):
                for stream in pair.streams:
                    await stream.aclose()

    async def _pump(
        self, pair: _Pair, source: anyio.abc.SocketStream, sink: anyio.abc.SocketStream
    ) -> None:
        try:
            while True:
                if pair.frozen:
                    await anyio.sleep_forever()
                data = await source.receive(65536)
                if pair.cut:
                    return
                if pair.frozen:
                    await anyio.sleep_forever()
                budget = pair.budget
                if budget is not None and len(data) >= budget:
                    pair.cut = True  # the other direction forwards nothing more
                    if budget:
                        await sink.send(data[:budget])
                    self._cut(pair)
                    return
                if budget is not None:
                    pair.budget = budget - len(data)
                pair.forwarded += len(data)
                await sink.send(data)
        except LINK_ERRORS:
            if pair.frozen:  # a partition hides everything, even one side going away
                await anyio.sleep_forever()
            pair.scope.cancel()  # one side went away: close the pair (no cut counted)

    def _cut(self, pair: _Pair) -> None:
        self.cuts += 1
        if pair.forwarded < 8192:
            self.small_cuts += 1
        rst = self.rng.random() < 0.5
        if rst:
            self.rsts += 1
            for stream in pair.streams:
                sock = stream.extra(anyio.abc.SocketAttribute.raw_socket)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.log.append(f"cut {self.cuts} after {pair.forwarded} bytes{' (RST)' if rst else ''}")
        pair.scope.cancel()


# -- the test --------------------------------------------------------------------------------


def _seed() -> int:
    env = os.environ.get("DISTANT_NET_CUT_SEED")
    return int(env) if env else random.SystemRandom().randrange(2**32)


async def _upload(client: Client[Any, Any], stream: DataStream, errors: list[str]) -> None:
    """Send CHUNKS requests in order; check every ack (its seq and digest)."""
    send_ids, receive_ids = anyio.create_memory_object_stream[tuple[int, str, bytes]](UPLOAD_WINDOW)

    async def collect_acks() -> None:
        async with receive_ids:
            async for seq, request_id, digest in receive_ids:
                ack = (await client.subscribe(request_id).next()).payload
                if not isinstance(ack, Ack) or ack.seq != seq or ack.digest != digest:
                    errors.append(f"upload: bad ack for chunk {seq}: {ack!r:.80}")

    async with anyio.create_task_group() as tg:
        tg.start_soon(collect_acks)
        async with send_ids:
            for seq in range(CHUNKS):
                chunk = stream.chunk(seq)
                request_id = await client.fire(chunk)
                await send_ids.send((seq, request_id, hashlib.sha256(chunk.data).digest()))


async def _download(client: Client[Any, Any], errors: list[str]) -> None:
    """Take the CHUNKS replies to one request (their order was checked on decoding)."""
    async with client.stream(Download(CHUNKS)) as mailbox:
        for expected in range(CHUNKS):
            reply = (await mailbox.next()).payload
            if not isinstance(reply, Chunk) or reply.seq != expected:
                errors.append(f"download: reply {expected} is {reply!r:.80}")


async def _transfer(
    client: Client[Any, Any],
    upload: DataStream,
    download_check: StreamCheck,
    upload_check: StreamCheck,
    proxy: CuttingProxy,
) -> str | None:
    """Run the upload and the download; returns why it failed (a chunk lost or duplicated,
    or no progress for STALL seconds), or None."""
    client_errors: list[str] = []
    failure: str | None = None

    def errors() -> list[str]:
        return client_errors + upload_check.errors + download_check.errors

    async def watchdog(scope: anyio.CancelScope) -> None:
        nonlocal failure
        progress, since = -1, time.monotonic()
        while not errors():
            await anyio.sleep(0.1)
            now = upload_check.next + download_check.next
            if now != progress:
                progress, since = now, time.monotonic()
            elif time.monotonic() - since > STALL:
                failure = (
                    f"no progress for {STALL} s: upload at chunk {upload_check.next}, "
                    f"download at chunk {download_check.next}; last cuts: {proxy.log[-3:]}"
                )
                scope.cancel()
                return
        failure = "\n".join(errors()[:20])
        scope.cancel()

    async with anyio.create_task_group() as outer:
        outer.start_soon(watchdog, outer.cancel_scope)
        async with anyio.create_task_group() as transfer:
            transfer.start_soon(_upload, client, upload, client_errors)
            transfer.start_soon(_download, client, client_errors)
        outer.cancel_scope.cancel()
    return failure or ("\n".join(errors()[:20]) if errors() else None)


@pytest.mark.slow
@pytest.mark.parametrize(
    "strategy",
    [
        ExponentialBackoff(base=0.01, factor=2, max_duration=0.2),
        FibonacciBackoff(base=0.01, max_duration=0.2),
    ],
    ids=["exponential", "fibonacci"],
)
async def test_64_mib_each_way_across_link_cuts(strategy: ReconnectStrategy) -> None:
    seed = _seed()
    print(f"link-cut seed: {seed} (set DISTANT_NET_CUT_SEED={seed} to replay)")
    rng = random.Random(seed)
    key = SecretKey.generate()

    upload_check = StreamCheck("upload")
    handler = TransferHandler(download_seed=rng.randrange(2**32))
    server: Server[Any, Any, None] = Server(
        handler,
        request_kind=RecordingUnion("TestRequest", [Chunk, Download], upload_check),
        response_kind=RESPONSE,
        settings=ServerSettings(lambda: Verifier.static_key(key)),
        heartbeat=0.5,
    )
    upload = DataStream(rng.randrange(2**32))
    download_check = StreamCheck("download")
    response_kind = RecordingUnion("TestResponse", [Chunk, Ack], download_check)

    server_listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    server_port = server_listener.extra(anyio.abc.SocketAttribute.local_port)
    proxy_listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    proxy_port = proxy_listener.extra(anyio.abc.SocketAttribute.local_port)
    proxy = CuttingProxy(server_port, random.Random(rng.randrange(2**32)))

    async def dial() -> anyio.abc.ByteStream:
        return await anyio.connect_tcp("127.0.0.1", proxy_port)

    started = time.monotonic()
    with anyio.fail_after(240):
        async with anyio.create_task_group() as tg:
            await tg.start(server.serve, server_listener)
            await tg.start(proxy.serve, proxy_listener)
            async with (
                open_connection(
                    dial,
                    handler=SyncHandlerAdapter(StaticKeyHandler(key)),
                    strategy=strategy,
                    silence=10,
                ) as conn,
                Client(conn, REQUEST, response_kind) as client,
            ):
                proxy.arm()
                failure = await _transfer(client, upload, download_check, upload_check, proxy)
                proxy.disarm()
                links = proxy.pairs
                if failure is None:
                    # The link still works after the storm.
                    reply = await client.request(Chunk(CHUNKS, b"last"), timeout=10)
                    assert reply.payload == Ack(CHUNKS, hashlib.sha256(b"last").digest())
            tg.cancel_scope.cancel()
    elapsed = time.monotonic() - started

    print(
        f"{proxy.cuts} cuts ({proxy.small_cuts} within 8 KiB of a link, {proxy.rsts} RST), "
        f"{links} links opened, {elapsed:.1f} s"
    )
    assert failure is None, failure
    assert upload_check.next == CHUNKS + 1  # the final request included
    assert download_check.next == CHUNKS
    upload.hash.update(b"last")
    assert upload_check.hash.hexdigest() == upload.hash.hexdigest()
    assert download_check.hash.hexdigest() == handler.download.hash.hexdigest()
    assert proxy.cuts >= MIN_CUTS, proxy.log


# -- targeted cuts --------------------------------------------------------------------------


@asynccontextmanager
async def _through_proxy(
    server: Server[Any, Any, Any], proxy_factory: Any, **client_options: Any
) -> AsyncIterator[tuple[Any, Connection, Client[Any, Any]]]:
    """A server, a proxy in front of it, and a client connected through the proxy."""
    server_listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    server_port = server_listener.extra(anyio.abc.SocketAttribute.local_port)
    proxy_listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    proxy_port = proxy_listener.extra(anyio.abc.SocketAttribute.local_port)
    proxy = proxy_factory(server_port)

    async def dial() -> anyio.abc.ByteStream:
        return await anyio.connect_tcp("127.0.0.1", proxy_port)

    async with anyio.create_task_group() as tg:
        await tg.start(server.serve, server_listener)
        await tg.start(proxy.serve, proxy_listener)
        async with (
            open_connection(
                dial,
                handler=SyncHandlerAdapter(StaticKeyHandler(KEY)),
                strategy=ExponentialBackoff(base=0.01, factor=2, max_duration=0.2),
                **client_options,
            ) as conn,
            Client(conn, REQUEST, RESPONSE) as client,
        ):
            yield proxy, conn, client
        tg.cancel_scope.cancel()


def _server(handler: Any, **options: Any) -> Server[Any, Any, Any]:
    return Server(
        handler,
        request_kind=REQUEST,
        response_kind=RESPONSE,
        settings=ServerSettings(lambda: Verifier.static_key(KEY)),
        **options,
    )


async def test_a_frozen_link_is_replaced_while_the_server_is_blocked_writing() -> None:
    """A partition, not a cut: the proxy stops forwarding without closing anything. The
    server, streaming, blocks in a write on the dead link and never notices; the client
    notices the silence and reconnects. The server must take the new link (and replay)
    although its writer is stuck on the old one."""
    handler = TransferHandler(download_seed=7)
    server = _server(handler, heartbeat=0.1)
    check = StreamCheck("download")
    count = 512  # 32 MiB: far more than the socket buffers hold

    def proxy_factory(port: int) -> CuttingProxy:
        return CuttingProxy(port, random.Random(0))

    with anyio.fail_after(60):
        async with _through_proxy(server, proxy_factory, silence=0.5) as (proxy, _conn, client):
            async with client.stream(Download(count)) as mailbox:
                for seq in range(count):
                    reply = (await mailbox.next()).payload
                    assert isinstance(reply, Chunk) and reply.seq == seq
                    check.feed(reply)
                    if seq == 8:
                        proxy.freeze()
            assert proxy.pairs >= 2
    assert not check.errors
    assert check.hash.hexdigest() == handler.download.hash.hexdigest()


class _OtpSplittingProxy(CuttingProxy):
    """On the first reconnection (the second link), forward the server's half of the new
    OTP exchange but hold the client's; cut once the client has moved on to synchronize.
    So the client derives the new OTP and the server never does."""

    async def _handle(self, downstream: anyio.abc.SocketStream) -> None:
        if self.pairs != 1:
            await super()._handle(downstream)
            return
        self.pairs += 1
        upstream = await anyio.connect_tcp("127.0.0.1", self.target_port)
        # Client to server: Choice, KeyExchangeData, Reconnect, then the client's OTP half
        # (held), then its synchronize triple. Server to client: 24 version bytes, Options,
        # KeyExchangeData, the server's OTP half.
        to_server = _FrameGate(raw=0, forward=3)
        to_client = _FrameGate(raw=24, forward=3)
        async with anyio.create_task_group() as tg:

            async def pump(source: Any, sink: Any, gate: _FrameGate) -> None:
                with contextlib.suppress(*LINK_ERRORS):
                    while gate.frames < 5:
                        data = await source.receive(65536)
                        allowed = gate.feed(data)
                        if allowed:
                            await sink.send(data[:allowed])
                self.cuts += 1
                tg.cancel_scope.cancel()

            tg.start_soon(pump, downstream, upstream, to_server)
            tg.start_soon(pump, upstream, downstream, to_client)
        for stream in (downstream, upstream):
            await stream.aclose()


class _FrameGate:
    """Counts the frames of one direction; lets through ``raw`` bytes and ``forward``
    frames, and holds everything after them."""

    def __init__(self, raw: int, forward: int) -> None:
        self.raw = raw
        self.forward = forward
        self.buffer = bytearray()
        self.passed = 0  # bytes let through so far
        self.frames = 0  # complete frames seen (let through or held)
        self.limit: int | None = None  # bytes to let through, once known

    def feed(self, data: bytes) -> int:
        start = len(self.buffer)
        self.buffer += data
        pos = self.raw
        frames = 0
        while len(self.buffer) >= pos + 8:
            end = pos + 8 + int.from_bytes(self.buffer[pos : pos + 8], "big")
            if end > len(self.buffer):
                break
            frames += 1
            if frames == self.forward:
                self.limit = end
            pos = end
        self.frames = frames
        limit = self.limit if self.limit is not None else len(self.buffer)
        allowed = max(0, min(len(self.buffer), limit) - max(start, self.passed))
        self.passed += allowed
        return allowed


async def test_a_cut_between_the_halves_of_the_otp_exchange(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The client derived the new OTP, the server did not: the server still only knows
    the previous one. The client must not lock itself out by offering only the new one."""
    caplog.set_level(logging.INFO, logger="distant_net")
    server = _server(TransferHandler(download_seed=1))
    with anyio.fail_after(30):
        async with _through_proxy(
            server, lambda port: _OtpSplittingProxy(port, random.Random(0))
        ) as (proxy, conn, client):
            reply = await client.request(Chunk(0, b"before"), timeout=10)
            assert isinstance(reply.payload, Ack)
            conn.lose_link("test: reconnect through the splitting proxy")
            reply = await client.request(Chunk(1, b"after"), timeout=20)
            assert reply.payload == Ack(1, hashlib.sha256(b"after").digest())
            assert proxy.cuts == 1
            assert proxy.pairs >= 3
    # The scenario happened: the server refused the new OTP it never derived...
    refused = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(refused) == 1, [r.getMessage() for r in refused]
    # ...and the client got in with the previous one.
    assert any("resumed" in r.getMessage() for r in caplog.records)
