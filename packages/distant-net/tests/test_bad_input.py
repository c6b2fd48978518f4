"""Bad input: a real server on loopback TCP, fed wrong keys, replayed or wrong OTPs, cut
handshakes, oversized frames and garbage (DESIGN.md, "Bad input").

In every test a good client connects first. Then an attacker (a raw socket driven through
the handshake helpers by hand) misbehaves. Each attack must end with:

* the bad link closed by the server;
* a warning from ``distant_net.server`` or ``distant_net.connection`` that names the peer
  (``127.0.0.1:<its port>``) and the reason;
* no exception escaping the server, and no error logged;
* the good client still working (a request after the attack), and new clients still
  accepted.
"""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.abc
import pytest

from distant_auth import Connect as ConnectType
from distant_auth import (
    HandshakeChoice,
    HandshakeOptions,
    KeyExchange,
    KeyExchangeData,
    Reconnect,
    SecretKey,
    StaticKeyHandler,
    Verifier,
    decode_connection_id,
    encode_connect_type,
    validate_choice,
)
from distant_codec import (
    AUTHENTICATION,
    MSG_REQUEST,
    MSG_RESPONSE,
    VERSION_BYTES_LEN,
    AuthInitialization,
    Msg,
    packb,
)
from distant_codec import requests as rq
from distant_codec import responses as rs
from distant_net import (
    EXTENDED_ENCRYPTION_TYPES,
    AuthenticationError,
    Client,
    ClientSettings,
    Connection,
    ExponentialBackoff,
    Fail,
    FramedTransport,
    ReplayBuffer,
    Server,
    ServerSettings,
    SyncHandlerAdapter,
    build_codec,
    client_connect,
    client_reconnect,
    open_connection,
    synchronize,
)

from .harness import Echo

pytestmark = pytest.mark.anyio

KEY = SecretKey.generate()
GOOD = SyncHandlerAdapter(StaticKeyHandler(KEY))
LINK_ERRORS = (
    anyio.EndOfStream,
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
    OSError,
)


# -- the scene: a server, a good client, and an attacker's raw links ------------------------


@dataclass
class Scene:
    server: Server[Any, Any, None]
    port: int
    conn: Connection
    client: Client[Any, Any]
    caplog: pytest.LogCaptureFixture

    async def check_good_client(self) -> None:
        """The good client still gets replies, and the server still accepts clients."""
        reply = await self.client.request(Msg.single(rq.Exists("/")), timeout=10)
        assert reply.payload == Msg.single(rs.Exists(True))
        async with (
            open_connection(self.dial, handler=GOOD, strategy=Fail(), connect_timeout=10) as c,
            Client(c, MSG_REQUEST, MSG_RESPONSE) as fresh,
        ):
            reply = await fresh.request(Msg.single(rq.Exists("/")), timeout=10)
            assert reply.payload == Msg.single(rs.Exists(True))

    async def dial(self) -> anyio.abc.SocketStream:
        return await anyio.connect_tcp("127.0.0.1", self.port)

    async def raw(self) -> tuple[FramedTransport, str]:
        """An attacker's link, and how the server names it in its log."""
        stream = await self.dial()
        local_port = stream.extra(anyio.abc.SocketAttribute.local_port)
        return FramedTransport(stream), f"127.0.0.1:{local_port}"

    async def expect_log(self, *fragments: str, level: int = logging.WARNING) -> str:
        """Wait for a distant_net.server/connection record holding every fragment."""
        with anyio.fail_after(5):
            while True:
                for record in self.caplog.records:
                    message = record.getMessage()
                    if (
                        record.name in ("distant_net.server", "distant_net.connection")
                        and record.levelno >= level
                        and all(fragment in message for fragment in fragments)
                    ):
                        return message
                await anyio.sleep(0.01)


@asynccontextmanager
async def scene(caplog: pytest.LogCaptureFixture) -> AsyncIterator[Scene]:
    caplog.set_level(logging.INFO, logger="distant_net")
    server: Server[Any, Any, None] = Server(
        Echo(),
        request_kind=MSG_REQUEST,
        response_kind=MSG_RESPONSE,
        settings=ServerSettings(lambda: Verifier.static_key(KEY)),
        handshake_timeout=10,
    )
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)

    async def dial() -> anyio.abc.SocketStream:
        return await anyio.connect_tcp("127.0.0.1", port)

    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            await tg.start(server.serve, listener)
            async with (
                open_connection(
                    dial, handler=GOOD, strategy=ExponentialBackoff(0.01, 2, max_duration=0.2)
                ) as conn,
                Client(conn, MSG_REQUEST, MSG_RESPONSE) as client,
            ):
                the_scene = Scene(server, port, conn, client, caplog)
                await the_scene.check_good_client()
                yield the_scene
                await the_scene.check_good_client()
            tg.cancel_scope.cancel()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


async def expect_closed(transport: FramedTransport) -> None:
    """The server closes the link: reading ends (EOF or reset) within a few seconds."""
    with anyio.fail_after(5):
        try:
            while True:
                await transport.stream.receive()
        except LINK_ERRORS:
            pass
    await transport.aclose()


async def read_item(transport: FramedTransport) -> bytes:
    while True:
        item = await transport.receive_frame()
        if item:  # skip heartbeats
            return item


async def negotiate(transport: FramedTransport) -> None:
    """Steps 1-4 of §3.1, as a client: version, Options/Choice, key exchange."""
    await transport.receive_exactly(VERSION_BYTES_LEN)
    options = HandshakeOptions.from_msgpack(await transport.receive_frame())
    choice = ClientSettings().choose(options)
    await transport.send_frame(choice.to_msgpack())
    negotiated = validate_choice(choice, known_encryption_types=EXTENDED_ENCRYPTION_TYPES)
    exchange = KeyExchange()
    await transport.send_frame(exchange.data.to_msgpack())
    peer = KeyExchangeData.from_msgpack(await transport.receive_frame())
    transport.codec = build_codec(negotiated, exchange.derive(peer), client=True)


async def connected(the_scene: Scene) -> tuple[FramedTransport, str, int, SecretKey]:
    """An attacker who authenticated properly: its link, name, connection id and OTP."""
    transport, peer = await the_scene.raw()
    cid, otp = await client_connect(transport, handler=GOOD, replay=ReplayBuffer())
    return transport, peer, cid, otp


# -- credentials --------------------------------------------------------------------------


async def test_wrong_static_key(caplog: pytest.LogCaptureFixture) -> None:
    async with scene(caplog) as the_scene:
        peers: list[str] = []

        async def dial() -> anyio.abc.SocketStream:
            stream = await the_scene.dial()
            peers.append(f"127.0.0.1:{stream.extra(anyio.abc.SocketAttribute.local_port)}")
            return stream

        wrong = SyncHandlerAdapter(StaticKeyHandler(SecretKey.generate()))
        with pytest.raises(AuthenticationError):
            async with open_connection(dial, handler=wrong, strategy=Fail(), connect_timeout=10):
                pass
        line = await the_scene.expect_log(peers[0], "authentication failed")
        assert KEY.expose().hex() not in line


async def test_replayed_otp_is_refused(caplog: pytest.LogCaptureFixture) -> None:
    async with scene(caplog) as the_scene:
        # A real connection, then a real reconnection that completes (synchronize done).
        first, _peer = await the_scene.raw()
        replay = ReplayBuffer()
        cid, otp = await client_connect(first, handler=GOOD, replay=replay)
        await first.aclose()
        second, _peer = await the_scene.raw()
        new_otp = await client_reconnect(second, connection_id=cid, otp=otp)
        await synchronize(second, replay, _discard)
        await the_scene.expect_log(f"connection {cid} resumed", level=logging.INFO)

        # The spent OTP, replayed in a Reconnect frame.
        attacker, peer = await the_scene.raw()
        await negotiate(attacker)
        await attacker.send_frame(encode_connect_type(Reconnect(cid, otp)))
        await expect_closed(attacker)
        await the_scene.expect_log(peer, f"reconnect to connection {cid} refused")

        # The attempt cost the owner nothing: the current OTP still opens the connection.
        third, _peer = await the_scene.raw()
        await client_reconnect(third, connection_id=cid, otp=new_otp)
        await synchronize(third, replay, _discard)
        await the_scene.expect_log(f"connection {cid} resumed from", level=logging.INFO)
        await third.aclose()
        await second.aclose()


async def _discard(item: bytes) -> None:
    pass


@pytest.mark.parametrize("target", ["good client's id", "unknown id"])
async def test_wrong_otp_or_unknown_id_is_refused(
    caplog: pytest.LogCaptureFixture, target: str
) -> None:
    async with scene(caplog) as the_scene:
        cid = the_scene.conn.id
        if target == "unknown id":
            cid = next(i for i in range(1, 2**32) if i not in the_scene.server.connections)
        attacker, peer = await the_scene.raw()
        await negotiate(attacker)
        await attacker.send_frame(encode_connect_type(Reconnect(cid, SecretKey.generate())))
        await expect_closed(attacker)
        await the_scene.expect_log(peer, f"reconnect to connection {cid} refused")

        # The wrong guess did not consume the good client's OTP: it can still reconnect.
        the_scene.conn.lose_link("test: cut after the attack")
        await the_scene.check_good_client()
        await the_scene.expect_log(f"connection {the_scene.conn.id} resumed", level=logging.INFO)


# -- truncated handshakes -----------------------------------------------------------------


async def _after_version(t: FramedTransport) -> None:
    await t.receive_exactly(VERSION_BYTES_LEN)


async def _after_options(t: FramedTransport) -> None:
    await _after_version(t)
    await t.receive_frame()


async def _mid_choice(t: FramedTransport) -> None:
    await _after_options(t)
    frame = t.codec.encode_framed(ClientSettings().choose(HandshakeOptions((), ())).to_msgpack())
    await t.send_raw(bytes(frame[: len(frame) // 2]))


async def _mid_key_exchange(t: FramedTransport) -> None:
    await _after_version(t)
    options = HandshakeOptions.from_msgpack(await t.receive_frame())
    await t.send_frame(ClientSettings().choose(options).to_msgpack())
    KeyExchangeData.from_msgpack(await t.receive_frame())  # the server's half, read first
    frame = t.codec.encode_framed(KeyExchange().data.to_msgpack())
    await t.send_raw(bytes(frame[:40]))


async def _after_key_exchange(t: FramedTransport) -> None:
    await negotiate(t)


async def _mid_connect_type(t: FramedTransport) -> None:
    await negotiate(t)
    frame = t.codec.encode_framed(encode_connect_type(ConnectType()))
    await t.send_raw(bytes(frame[:-3]))


async def _mid_authentication(t: FramedTransport) -> None:
    await negotiate(t)
    await t.send_frame(encode_connect_type(ConnectType()))
    decode_connection_id(await read_item(t))
    assert isinstance(AUTHENTICATION.decode(await read_item(t)), AuthInitialization)


@pytest.mark.parametrize(
    ("cut", "reason"),
    [
        # The Options may still be unread when we close: then the close is a reset.
        (_after_version, "during the handshake"),
        (_after_options, "closed the link during the handshake"),
        (_mid_choice, "truncated"),
        (_mid_key_exchange, "truncated"),
        (_after_key_exchange, "closed the link during the handshake"),
        (_mid_connect_type, "truncated"),
        (_mid_authentication, "closed the link during the handshake"),
    ],
    ids=lambda v: getattr(v, "__name__", "").strip("_") or None,
)
async def test_truncated_handshake(caplog: pytest.LogCaptureFixture, cut: Any, reason: str) -> None:
    async with scene(caplog) as the_scene:
        attacker, peer = await the_scene.raw()
        await cut(attacker)
        await attacker.stream.aclose()
        await the_scene.expect_log(f"closing connection from {peer}", reason)


# -- oversized frames ---------------------------------------------------------------------


HUGE = (2**40).to_bytes(8, "big")


@pytest.mark.parametrize("where", ["instead of the Choice", "instead of the ConnectType"])
async def test_oversized_frame_in_the_handshake(
    caplog: pytest.LogCaptureFixture, where: str
) -> None:
    async with scene(caplog) as the_scene:
        attacker, peer = await the_scene.raw()
        if where == "instead of the Choice":
            await _after_options(attacker)
        else:
            await negotiate(attacker)
        await attacker.send_raw(HUGE + b"\x00" * 100)
        await expect_closed(attacker)
        await the_scene.expect_log(
            f"closing connection from {peer}", "FrameTooLarge", f"{2**40} bytes"
        )


async def test_oversized_frame_after_the_handshake(caplog: pytest.LogCaptureFixture) -> None:
    async with scene(caplog) as the_scene:
        attacker, peer, cid, _otp = await connected(the_scene)
        await attacker.send_raw(HUGE + b"\x00" * 100)
        await expect_closed(attacker)
        await the_scene.expect_log(
            f"closing the link with {peer} after a bad frame", "FrameTooLarge", f"{2**40} bytes"
        )
        # The link is gone; the logical connection waits (grace) for an honest reconnect.
        assert not the_scene.server.connections[cid].attached


# -- garbage --------------------------------------------------------------------------------


@pytest.mark.parametrize("framed", [False, True], ids=["raw bytes", "well-framed bytes"])
async def test_random_bytes_after_the_handshake(
    caplog: pytest.LogCaptureFixture, framed: bool
) -> None:
    seed = random.SystemRandom().randrange(2**32)
    print(f"random bytes seed: {seed}")
    garbage = random.Random(seed).randbytes(4096)
    async with scene(caplog) as the_scene:
        attacker, peer, cid, _otp = await connected(the_scene)
        if framed:  # a frame the codec cannot open (no valid tag)
            garbage = len(garbage).to_bytes(8, "big") + garbage
        await attacker.send_raw(garbage)
        await expect_closed(attacker)
        await the_scene.expect_log(f"closing the link with {peer} after a bad frame")
        assert not the_scene.server.connections[cid].attached


@pytest.mark.parametrize(
    "garbage",
    [
        random.Random(1).randbytes(300),
        packb([1, 2, 3]),
        packb({"encryption_type": 5}),
        packb({"compression_level": "Six", "encryption_type": None, "extra": 1}),
    ],
    ids=["random bytes", "an array", "a wrong field type", "an unknown field"],
)
async def test_garbage_instead_of_a_choice(
    caplog: pytest.LogCaptureFixture, garbage: bytes
) -> None:
    async with scene(caplog) as the_scene:
        attacker, peer = await the_scene.raw()
        await _after_options(attacker)
        await attacker.send_frame(garbage)
        await expect_closed(attacker)
        await the_scene.expect_log(f"closing connection from {peer}", "CodecError")


@pytest.mark.parametrize(
    "garbage",
    [packb("Disconnect"), packb({"Reconnect": {"id": 1}}), random.Random(2).randbytes(100)],
    ids=["unknown ConnectType", "Reconnect without an OTP", "random bytes"],
)
async def test_garbage_instead_of_a_connect_type(
    caplog: pytest.LogCaptureFixture, garbage: bytes
) -> None:
    async with scene(caplog) as the_scene:
        attacker, peer = await the_scene.raw()
        await negotiate(attacker)
        await attacker.send_frame(garbage)
        await expect_closed(attacker)
        await the_scene.expect_log(f"closing connection from {peer}", "CodecError")


@pytest.mark.parametrize(
    ("choice", "reason"),
    [
        (HandshakeChoice(encryption_type="Rot13"), "unknown encryption type 'Rot13'"),
        (HandshakeChoice(compression_type="Brotli"), "unknown compression type 'Brotli'"),
        (HandshakeChoice(compression_level="Eleven"), "unknown compression level 'Eleven'"),
    ],
    ids=["encryption", "compression", "level"],
)
async def test_unknown_type_in_the_choice(
    caplog: pytest.LogCaptureFixture, choice: HandshakeChoice, reason: str
) -> None:
    async with scene(caplog) as the_scene:
        attacker, peer = await the_scene.raw()
        await _after_options(attacker)
        await attacker.send_frame(choice.to_msgpack())
        await expect_closed(attacker)
        await the_scene.expect_log(f"closing connection from {peer}", reason)
