"""The positional envelope rules of §6.2."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import distant_codec as dc
from distant_codec import requests as rq
from distant_codec import responses as rs

from .strategies import for_kind, headers


def test_typical_request_bytes() -> None:
    # §6.2: {"id":"1","payload":{"type":"version"}}
    req = dc.Request(dc.Msg.single(rq.Version()), id="1")
    expected = "82a26964a131a77061796c6f616481a474797065a776657273696f6e"
    assert req.to_bytes(dc.MSG_REQUEST).hex() == expected


@settings(max_examples=100, deadline=None)
@given(payload=for_kind(dc.MSG_REQUEST), header=headers, rid=st.text(max_size=20))
def test_typed_and_untyped_requests_agree(
    payload: dc.Msg[Any], header: dc.Header, rid: str
) -> None:
    req = dc.Request(payload, id=rid, header=header)
    raw = req.to_bytes(dc.MSG_REQUEST)
    assert raw == req.to_untyped(dc.MSG_REQUEST).to_bytes()
    untyped = dc.UntypedRequest.from_bytes(raw)
    assert (untyped.id, untyped.header) == (rid, header)
    assert dc.Request.from_untyped(untyped, dc.MSG_REQUEST) == req


@settings(max_examples=100, deadline=None)
@given(payload=for_kind(dc.MSG_RESPONSE), header=headers, rid=st.text(max_size=20))
def test_typed_and_untyped_responses_agree(
    payload: dc.Msg[Any], header: dc.Header, rid: str
) -> None:
    resp = dc.Response("origin", payload, id=rid, header=header)
    raw = resp.to_bytes(dc.MSG_RESPONSE)
    assert raw == resp.to_untyped(dc.MSG_RESPONSE).to_bytes()
    assert dc.Response.from_bytes(raw, dc.MSG_RESPONSE) == resp


def _packed_map(pairs: list[tuple[str, Any]], map16: bool = False) -> bytes:
    body = b"".join(dc.packb(k) + dc.packb(v) for k, v in pairs)
    head = b"\xde" + len(pairs).to_bytes(2, "big") if map16 else bytes([0x80 | len(pairs)])
    return head + body


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (_packed_map([("payload", True), ("id", "x")]), "key order"),
        (_packed_map([("id", "x"), ("payload", True)], map16=True), "map16"),
        (_packed_map([("id", "x"), ("extra", 1), ("payload", True)]), "extra key"),
        (_packed_map([("id", 5), ("payload", True)]), "id is not a str"),
        (b"\x82\xa2id\xa2\xff\xfe\xa7payload\xc3", "id is not UTF-8"),
        (_packed_map([("header", {}), ("payload", True), ("id", "x")]), "header then payload"),
        (b"\x82\xa2id", "truncated"),
        (b"", "empty"),
        (b"\x92\x01\x02", "array"),
    ],
)
def test_request_layouts_that_are_rejected(raw: bytes, reason: str) -> None:
    with pytest.raises(dc.CodecError):
        dc.UntypedRequest.from_bytes(raw)
    with pytest.raises(dc.CodecError):
        dc.Request.from_bytes(raw, dc.MSG_REQUEST)


def test_response_requires_origin_id_in_place() -> None:
    swapped = _packed_map([("origin_id", "o"), ("id", "i"), ("payload", True)])
    with pytest.raises(dc.CodecError):
        dc.UntypedResponse.from_bytes(swapped)
    good = _packed_map([("id", "i"), ("origin_id", "o"), ("payload", True)])
    assert dc.UntypedResponse.from_bytes(good) == dc.UntypedResponse("i", "o", b"\xc3")


def test_keys_may_use_wider_str_encodings() -> None:
    # A peer may encode keys as str8; the layout is the same.
    raw = b"\x82\xd9\x02id\xa1x\xd9\x07payload\xc3"
    assert dc.UntypedRequest.from_bytes(raw) == dc.UntypedRequest("x", b"\xc3")


def test_header_with_sequence_flag() -> None:
    req = dc.Request(
        dc.Msg.batch([rq.Exists("/a"), rq.Version()]), id="2", header={"sequence": True}
    )
    raw = req.to_bytes(dc.MSG_REQUEST)
    assert raw[0] == 0x83
    assert dc.Request.from_bytes(raw, dc.MSG_REQUEST).header == {"sequence": True}


def test_json_form_matches_distant_api_lines() -> None:
    line = {"id": "2", "header": {"sequence": True}, "extra": 1,
            "payload": [{"type": "exists", "path": "/a"}, {"type": "version"}]}  # fmt: skip
    req = dc.Request.from_json(line, dc.MSG_REQUEST)
    assert req.payload.items == (rq.Exists("/a"), rq.Version())
    out = dc.Response("2", dc.Msg.single(rs.Blob(b"hi")), id="9").to_json(dc.MSG_RESPONSE)
    assert out == {"id": "9", "origin_id": "2", "payload": {"type": "blob", "data": [104, 105]}}


@pytest.mark.parametrize(
    "line",
    [[], {"payload": {"type": "version"}}, {"id": 3, "payload": {"type": "version"}}, {"id": "1"}],
)
def test_bad_json_requests(line: Any) -> None:
    with pytest.raises(dc.CodecError):
        dc.Request.from_json(line, dc.MSG_REQUEST)


def test_untyped_serde_form_inside_channel() -> None:
    inner = dc.UntypedRequest("7", dc.packb({"type": "version"}), {"sequence": True})
    obj = dc.UNTYPED_REQUEST.to_obj(inner)
    assert obj["payload"] == list(inner.payload)
    assert obj["header"] == list(dc.packb({"sequence": True}))
    assert dc.UNTYPED_REQUEST.from_obj(obj) == inner
    no_header = dc.UntypedResponse("1", "2", b"\xc3")
    assert "header" not in dc.UNTYPED_RESPONSE.to_obj(no_header)
