"""Envelopes with a large binary field are packed in pieces around it (``_pack_envelope``):
the bytes must be exactly msgpack's, whatever surrounds the field."""

from __future__ import annotations

import itertools
import os
from typing import Any

import msgpack
import pytest

import distant_codec as dc
from distant_codec import extensions as ex
from distant_codec import requests as rq
from distant_codec import responses as rs
from distant_codec.envelope import LARGE_BIN, BinParts


def reference(obj: dict[str, Any]) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


DATA = os.urandom(LARGE_BIN * 3 + 5)


@pytest.mark.parametrize("header", [{}, {"sequence": 7, "x": [1, "a"]}])
@pytest.mark.parametrize(
    "payload",
    [
        ex.FileChunk(123, DATA, False),
        ex.FileChunk(2**40, DATA, True, "ab" * 32),  # fields after the data
        ex.FileChunk(0, bytearray(DATA), True),
        ex.FileChunk(0, memoryview(DATA + b"tail")[: len(DATA)], False),  # type: ignore[arg-type]
        ex.FileChunk(0, DATA[: LARGE_BIN - 1], False),  # below the threshold: msgpack's path
        rs.Blob(DATA),
        rs.ProcStdout(9, DATA),
    ],
)
def test_response_bytes_are_msgpacks(header: dict[str, Any], payload: Any) -> None:
    response = dc.Response("42", dc.Msg.single(payload), header=header)
    raw = response.to_bytes(dc.MSG_EXTENDED_RESPONSE)
    obj: dict[str, Any] = {"header": header} if header else {}
    obj |= {"id": response.id, "origin_id": "42"}
    obj["payload"] = dc.MSG_EXTENDED_RESPONSE.to_obj(response.payload)
    assert raw == reference(obj)
    back = dc.Response.from_bytes(raw, dc.MSG_EXTENDED_RESPONSE)
    assert back.payload.items[0].data == bytes(payload.data)


def test_request_and_batch_bytes_are_msgpacks() -> None:
    single = dc.Request(dc.Msg.single(ex.FileWriteRange("/f", 5, DATA, True, None)))
    obj = {"id": single.id, "payload": dc.MSG_EXTENDED_REQUEST.to_obj(single.payload)}
    assert single.to_bytes(dc.MSG_EXTENDED_REQUEST) == reference(obj)
    batch = dc.Request(dc.Msg.batch([rq.FileWrite("/a", DATA), rq.FileWrite("/b", DATA)]))
    obj = {"id": batch.id, "payload": dc.MSG_REQUEST.to_obj(batch.payload)}
    assert batch.to_bytes(dc.MSG_REQUEST) == reference(obj)
    assert dc.Request.from_bytes(batch.to_bytes(dc.MSG_REQUEST), dc.MSG_REQUEST) == batch


def _parts(data: bytes, cuts: list[int]) -> BinParts:
    bounds = [0, *cuts, len(data)]
    return BinParts(data[a:b] for a, b in itertools.pairwise(bounds))


@pytest.mark.parametrize(
    "data, cuts",
    [
        (DATA, [1000, LARGE_BIN, 2 * LARGE_BIN + 7]),  # blocks, as SFTP replies come
        (DATA, []),  # one part
        (DATA[:100], [10, 50]),  # small: msgpack's smaller bin header
        (DATA[: LARGE_BIN - 1], [5]),  # just below the threshold
        (b"", []),  # empty
    ],
)
@pytest.mark.parametrize("digest", [None, "cd" * 32])
def test_bin_parts_pack_as_the_joined_bytes(data: bytes, cuts: list[int], digest: Any) -> None:
    """A field given as :class:`BinParts` packs to the very bytes of the joined field."""
    parts = _parts(data, cuts)
    assert len(parts) == len(data) and bytes(parts) == data
    joined = dc.Response("42", dc.Msg.single(ex.FileChunk(7, data, True, digest)), id="1")
    split = dc.Response(
        "42", dc.Msg.single(ex.FileChunk(7, parts.as_field(), True, digest)), id="1"
    )
    raw = split.to_bytes(dc.MSG_EXTENDED_RESPONSE)
    assert raw == joined.to_bytes(dc.MSG_EXTENDED_RESPONSE)
    assert dc.Response.from_bytes(raw, dc.MSG_EXTENDED_RESPONSE) == joined


def test_bin_parts_in_a_batch_are_joined_first() -> None:
    parts = _parts(DATA, [3, LARGE_BIN])
    items = [ex.FileChunk(0, parts.as_field(), False), ex.FileChunk(9, b"x", True)]
    split = dc.Response("42", dc.Msg.batch(items), id="1")
    plain = [ex.FileChunk(0, DATA, False), ex.FileChunk(9, b"x", True)]
    joined = dc.Response("42", dc.Msg.batch(plain), id="1")
    assert split.to_bytes(dc.MSG_EXTENDED_RESPONSE) == joined.to_bytes(dc.MSG_EXTENDED_RESPONSE)


def test_bin_parts_prefix_cuts_views() -> None:
    parts = _parts(DATA, [10, 20])
    assert bytes(parts.prefix(15)) == DATA[:15] and len(parts.prefix(15).parts) == 2
    assert bytes(parts.prefix(20)) == DATA[:20] and len(parts.prefix(20).parts) == 2
    assert bytes(parts.prefix(len(DATA) - 1)) == DATA[:-1]
    assert isinstance(parts.prefix(len(DATA) - 1).parts[-1], memoryview)  # not a copy
    assert parts.prefix(0).parts == () and bytes(parts.prefix(10**9)) == DATA
