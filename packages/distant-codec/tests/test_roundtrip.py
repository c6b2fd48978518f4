"""Property tests: every message type survives msgpack and JSON round trips, and every
decoder rejects garbage with CodecError and nothing else."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import distant_codec as dc
from distant_codec.schema import StructKind

from .strategies import all_struct_classes, for_kind, for_struct, json_values

UNIONS: dict[str, dc.Kind[Any]] = {
    "Request": dc.REQUEST,
    "Response": dc.RESPONSE,
    "Msg<Request>": dc.MSG_REQUEST,
    "Msg<Response>": dc.MSG_RESPONSE,
    "ManagerRequest": dc.MANAGER_REQUEST,
    "ManagerResponse": dc.MANAGER_RESPONSE,
    "Authentication": dc.AUTHENTICATION,
    "AuthenticationResponse": dc.AUTHENTICATION_RESPONSE,
    "Condition": dc.CONDITION,
    "SearchQueryMatch": dc.SEARCH_QUERY_MATCH,
    "CliSelect": dc.CLI_SELECT,
}
STRUCTS = all_struct_classes()
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _kind_for(cls: type[dc.Struct]) -> dc.Kind[Any]:
    return StructKind(cls)


def test_every_struct_is_covered() -> None:
    # The whole model: 29 requests, 23 responses (5 of them shared with the common types),
    # the manager, auth, plugin and CLI messages.
    assert len(STRUCTS) >= 90
    for cls in STRUCTS:
        for_struct(cls)  # raises if a field kind has no strategy


@pytest.mark.parametrize("name", list(UNIONS))
@SETTINGS
@given(data=st.data())
def test_union_roundtrip(name: str, data: st.DataObject) -> None:
    kind = UNIONS[name]
    value = data.draw(for_kind(kind))
    assert kind.decode(kind.encode(value)) == value
    text = json.dumps(kind.to_json(value))
    assert kind.from_json(json.loads(text)) == value


@pytest.mark.parametrize(
    "cls", STRUCTS, ids=lambda c: f"{c.__module__.split('.')[-1]}.{c.__name__}"
)
@SETTINGS
@given(data=st.data())
def test_struct_roundtrip(cls: type[dc.Struct], data: st.DataObject) -> None:
    value = data.draw(for_struct(cls))
    kind = _kind_for(cls)
    assert kind.decode(kind.encode(value)) == value
    assert kind.from_json(json.loads(json.dumps(kind.to_json(value)))) == value


@SETTINGS
@given(
    payload=for_kind(dc.MSG_REQUEST),
    header=st.dictionaries(st.text(max_size=5), st.integers(0, 9), max_size=2),
)
def test_typed_request_envelope_roundtrip(payload: dc.Msg[Any], header: dict[str, Any]) -> None:
    req = dc.Request(payload, header=header)
    raw = req.to_bytes(dc.MSG_REQUEST)
    assert raw[0] == (0x83 if header else 0x82)
    assert dc.Request.from_bytes(raw, dc.MSG_REQUEST) == req
    assert (
        dc.Request.from_json(json.loads(json.dumps(req.to_json(dc.MSG_REQUEST))), dc.MSG_REQUEST)
        == req
    )


@SETTINGS
@given(payload=for_kind(dc.MSG_RESPONSE), origin=st.text(max_size=30))
def test_typed_response_envelope_roundtrip(payload: dc.Msg[Any], origin: str) -> None:
    resp = dc.Response(origin, payload)
    raw = resp.to_bytes(dc.MSG_RESPONSE)
    assert dc.Response.from_bytes(raw, dc.MSG_RESPONSE) == resp
    assert (
        dc.Response.from_json(
            json.loads(json.dumps(resp.to_json(dc.MSG_RESPONSE))), dc.MSG_RESPONSE
        )
        == resp
    )


# -- garbage in, CodecError out ------------------------------------------------------------

DECODERS: dict[str, Any] = {
    **{name: kind.decode for name, kind in UNIONS.items()},
    "UntypedRequest": dc.UntypedRequest.from_bytes,
    "UntypedResponse": dc.UntypedResponse.from_bytes,
    "ProtocolVersion": dc.ProtocolVersion.from_bytes,
    "header": dc.decode_header,
    "plugin": dc.parse_plugin_message,
    "options": lambda b: dc.parse_options(b.decode("latin-1")),
}


@pytest.mark.parametrize("name", list(DECODERS))
@settings(max_examples=300, deadline=None)
@given(blob=st.binary(max_size=200))
def test_random_bytes_raise_only_codec_error(name: str, blob: bytes) -> None:
    with contextlib.suppress(dc.CodecError):
        DECODERS[name](blob)


@pytest.mark.parametrize("name", list(UNIONS))
@settings(max_examples=200, deadline=None)
@given(
    doc=json_values,
    tag=st.sampled_from(["", "file_read", "proc_done", "auth_challenge", "connect", "or"]),
)
def test_random_documents_raise_only_codec_error(name: str, doc: Any, tag: str) -> None:
    kind = UNIONS[name]
    if tag and isinstance(doc, dict):
        doc = {"type": tag, **doc}
    try:
        packed: bytes | None = dc.packb(doc)
    except OverflowError:  # integers beyond msgpack's range cannot be sent at all
        packed = None
    for decode in (kind.from_json, kind.from_obj):
        with contextlib.suppress(dc.CodecError):
            decode(doc)
    if packed is not None:
        with contextlib.suppress(dc.CodecError):
            kind.decode(packed)


@pytest.mark.parametrize("cls", STRUCTS, ids=lambda c: c.__name__)
@settings(max_examples=40, deadline=None)
@given(doc=json_values)
def test_struct_decoders_on_random_documents(cls: type[dc.Struct], doc: Any) -> None:
    with contextlib.suppress(dc.CodecError):
        cls.from_json(doc)
