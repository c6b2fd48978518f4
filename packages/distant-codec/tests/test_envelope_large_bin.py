"""Envelopes with a large binary field are packed in pieces around it (``_pack_envelope``):
the bytes must be exactly msgpack's, whatever surrounds the field."""

from __future__ import annotations

import os
from typing import Any

import msgpack
import pytest

import distant_codec as dc
from distant_codec import extensions as ex
from distant_codec import requests as rq
from distant_codec import responses as rs
from distant_codec.envelope import LARGE_BIN


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
