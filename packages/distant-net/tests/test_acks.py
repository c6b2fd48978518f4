"""Acknowledgements between our own peers keep the replay backup to what is in flight."""

from __future__ import annotations

import anyio
import pytest

from distant_codec import Msg
from distant_codec import requests as rq
from distant_net import ClientSettings
from distant_net.acks import decode_ack, encode_ack, is_control

from .harness import ScriptedHandler, connected_client, running_server

pytestmark = pytest.mark.anyio

CHUNK = b"x" * 65536


def test_control_items_never_look_like_msgpack() -> None:
    ack = encode_ack(12345)
    assert is_control(ack) and decode_ack(ack) == 12345
    assert not is_control(b"\x82\xa2id")  # a request envelope
    assert decode_ack(b"\xc1\x02" + bytes(8)) is None  # an unknown kind is ignored


async def _stream(client: object, total: int) -> int:
    """Fire ``total`` bytes of writes; return the largest backup seen while sending."""
    biggest = 0
    for _ in range(total // len(CHUNK)):
        await client.fire(Msg.single(rq.FileWrite("/dev/null", CHUNK)))  # type: ignore[attr-defined]
        biggest = max(biggest, client.connection.replay.backup_bytes)  # type: ignore[attr-defined]
    return biggest


async def test_backup_stays_bounded_between_our_peers() -> None:
    async with running_server(ScriptedHandler()) as run, connected_client(run.port) as client:
        conn = client.connection
        conn.max_unacked = 2 * 1024 * 1024
        biggest = await _stream(client, 48 * 1024 * 1024)
        assert biggest <= conn.max_unacked + 2 * len(CHUNK)
        with anyio.fail_after(5):  # the last acknowledgement empties it
            while conn.replay.backup_bytes:
                await anyio.sleep(0.05)


async def test_a_rust_like_peer_gets_upstream_behaviour() -> None:
    settings = ClientSettings(encryption="XChaCha20Poly1305")  # as a Rust client chooses
    async with (
        running_server(ScriptedHandler()) as run,
        connected_client(run.port, settings=settings) as client,
    ):
        biggest = await _stream(client, 8 * 1024 * 1024)
        assert biggest >= 8 * 1024 * 1024  # nothing acknowledged: everything is kept
