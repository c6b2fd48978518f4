"""Connection bootstrap (§3.1) with both ends running over an in-memory pair."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

import distant_codec as dc
from distant_auth import Keychain, NoneHandler, SecretKey, StaticKeyHandler, Verifier
from distant_net import (
    AuthenticationError,
    ClientSettings,
    FramedTransport,
    IncompatibleVersion,
    NewConnection,
    Reconnection,
    ReplayBuffer,
    ServerSettings,
    SyncHandlerAdapter,
    client_connect,
    client_reconnect,
    memory_stream_pair,
    server_accept,
)

pytestmark = pytest.mark.anyio
KEY = SecretKey.generate()


async def _run_both(
    client_settings: ClientSettings | None = None,
    server_settings: ServerSettings | None = None,
    handler: Any = None,
    keychain: Keychain | None = None,
) -> tuple[Any, Any, FramedTransport, FramedTransport]:
    a, b = memory_stream_pair()
    ct, st = FramedTransport(a), FramedTransport(b)
    keychain = keychain if keychain is not None else Keychain()
    results: dict[str, Any] = {}

    async def server() -> None:
        try:
            results["server"] = await server_accept(
                st,
                settings=server_settings or ServerSettings(lambda: Verifier.static_key(KEY)),
                keychain=keychain,
                is_taken=lambda _: False,
            )
        except Exception as exc:
            results["server"] = exc
            await st.aclose()

    async def client() -> None:
        try:
            results["client"] = await client_connect(
                ct,
                handler=handler or SyncHandlerAdapter(StaticKeyHandler(KEY)),
                replay=ReplayBuffer(),
                settings=client_settings,
            )
        except Exception as exc:
            results["client"] = exc
            await ct.aclose()

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(server)
            tg.start_soon(client)
    return results["client"], results["server"], ct, st


async def test_static_key_and_counter_cipher_by_default() -> None:
    (cid, otp), new, ct, st = await _run_both()
    assert isinstance(new, NewConnection)
    assert new.connection_id == cid and new.method == "static_key"
    assert isinstance(ct.codec, dc.CounterNonceCodec) and isinstance(st.codec, dc.CounterNonceCodec)
    assert len(otp.expose()) == 32
    # Both sides counted the same frames from ConnectType on (§5.3): the client sent
    # Connect, its init response, its challenge response and its OTP half.
    assert new.replay.received == 4


async def test_a_rust_like_client_gets_xchacha() -> None:
    settings = ClientSettings(encryption="XChaCha20Poly1305")
    (_cid, _otp), new, ct, st = await _run_both(client_settings=settings)
    assert isinstance(new, NewConnection)
    assert isinstance(ct.codec, dc.XChaCha20Poly1305Codec)
    assert isinstance(st.codec, dc.XChaCha20Poly1305Codec)


async def test_compression_chains_after_encryption() -> None:
    settings = ClientSettings(compression="Zlib", compression_level="Nine")
    (_cid, _otp), _new, ct, _st = await _run_both(client_settings=settings)
    assert isinstance(ct.codec, dc.ChainCodec)
    assert isinstance(ct.codec.first, dc.CounterNonceCodec)
    assert isinstance(ct.codec.second, dc.CompressionCodec)


async def test_plain_when_the_client_asks_for_no_encryption() -> None:
    settings = ClientSettings(encrypt=False)
    server = ServerSettings(Verifier.none)
    (_cid, _otp), _new, ct, _st = await _run_both(
        settings, server, SyncHandlerAdapter(NoneHandler())
    )
    assert isinstance(ct.codec, dc.PlainCodec)


async def test_wrong_key_is_refused() -> None:
    wrong = SyncHandlerAdapter(StaticKeyHandler(SecretKey.generate()))
    client, server, _ct, _st = await _run_both(handler=wrong)
    assert isinstance(server, AuthenticationError)
    # The server closes without an auth_error (§4.3); the client sees the link end.
    assert isinstance(client, anyio.EndOfStream | AuthenticationError)


async def test_incompatible_version_is_refused_by_the_client() -> None:
    server = ServerSettings(lambda: Verifier.static_key(KEY), version=dc.ProtocolVersion(0, 22, 0))
    client, _server, _ct, _st = await _run_both(server_settings=server)
    assert isinstance(client, IncompatibleVersion)


async def test_server_writes_the_exact_opening_bytes() -> None:
    a, b = memory_stream_pair()
    st = FramedTransport(b)
    settings = ServerSettings(
        lambda: Verifier.static_key(KEY), encryption_types=("XChaCha20Poly1305",)
    )

    async def server() -> None:
        try:
            await server_accept(
                st, settings=settings, keychain=Keychain(), is_taken=lambda _: False
            )
        except Exception:
            await st.aclose()

    async with anyio.create_task_group() as tg:
        tg.start_soon(server)
        head = b""
        while len(head) < 24 + 8 + 0x4A:
            head += await a.receive()
        # §13: version 0.21.0, then the Options frame of §3.3, byte for byte.
        assert head[:24].hex() == "0" * 30 + "15" + "0" * 16
        options = (
            "82b1" + b"compression_types".hex() + "93a7" + b"Deflate".hex() + "a4" + b"Gzip".hex()
            + "a4" + b"Zlib".hex() + "b0" + b"encryption_types".hex() + "91b1"
            + b"XChaCha20Poly1305".hex()
        )  # fmt: skip
        assert head[24:32] == (0x4A).to_bytes(8, "big")
        assert head[32 : 32 + 0x4A].hex() == options
        await a.aclose()
        tg.cancel_scope.cancel()


async def test_reconnect_consumes_the_otp_and_issues_a_new_one() -> None:
    keychain = Keychain()
    (cid, otp), new, _ct, _st = await _run_both(keychain=keychain)
    assert isinstance(new, NewConnection)
    previous: dict[int, SecretKey] = {}

    async def reconnect(offered: SecretKey) -> tuple[Any, Any]:
        a, b = memory_stream_pair()
        out: dict[str, Any] = {}

        async def server() -> None:
            try:
                out["server"] = await server_accept(
                    FramedTransport(b), settings=ServerSettings(lambda: Verifier.static_key(KEY)),
                    keychain=keychain, is_taken=lambda _: True, previous_otp=previous,
                )  # fmt: skip
            except Exception as exc:
                out["server"] = exc
                await b.aclose()

        async def client() -> None:
            try:
                out["client"] = await client_reconnect(
                    FramedTransport(a), connection_id=cid, otp=offered
                )
            except Exception as exc:
                out["client"] = exc

        async with anyio.create_task_group() as tg:
            tg.start_soon(server)
            tg.start_soon(client)
        return out["client"], out["server"]

    new_otp, result = await reconnect(otp)
    assert result == Reconnection(cid)
    assert isinstance(new_otp, SecretKey) and new_otp != otp
    # Until the reconnection completes the old OTP still opens the connection...
    _again, result = await reconnect(otp)
    assert result == Reconnection(cid)
    # ...and once it has completed (the server drops it), a replay is refused.
    previous.clear()
    _client, refused = await reconnect(otp)
    assert isinstance(refused, AuthenticationError)
    _client, refused = await reconnect(SecretKey.generate())
    assert isinstance(refused, AuthenticationError)
