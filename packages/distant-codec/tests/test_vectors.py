"""Every entry of shared/spec/vectors.json, each checked in the directions it lists.

The file is read from ``shared/`` beside the checkout (or ``$DISTANT_SHARED``); it is never
copied into the repository. A vector of a kind this module does not know fails the test, so
no vector can be skipped silently.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import distant_codec as dc
from distant_codec import common as c
from distant_codec.schema import STR, EnumKind, ListKind, StructKind

SHARED = Path(os.environ.get("DISTANT_SHARED", Path(__file__).resolve().parents[4] / "shared"))
VECTORS: list[dict[str, Any]] = json.loads((SHARED / "spec" / "vectors.json").read_text())

UNION_KINDS: dict[str, dc.Kind[Any]] = {
    "request": dc.REQUEST,
    "response": dc.RESPONSE,
    "api_response_payload": dc.RESPONSE,
    "auth": dc.AUTHENTICATION,
    "auth_response": dc.AUTHENTICATION_RESPONSE,
    "manager_request": dc.MANAGER_REQUEST,
    "manager_response": dc.MANAGER_RESPONSE,
    "cli_select_jsonl": dc.CLI_SELECT,
    "msg": dc.MsgKind(STR),
    "cmd": STR,
    "remote_path": STR,
    "change_kind": EnumKind(c.ChangeKind),
    "change_kind_set": ListKind(EnumKind(c.ChangeKind)),
    "change_details_attribute": EnumKind(c.ChangeDetailsAttribute),
    "error_kind": EnumKind(c.ErrorKind),
    "file_type": EnumKind(c.FileType),
    "search_query_target": EnumKind(c.SearchQueryTarget),
    "tunnel_direction": EnumKind(c.TunnelDirection),
    "search_query_condition": dc.CONDITION,
    "search_query_match": dc.SEARCH_QUERY_MATCH,
    "search_query_match_data": dc.MATCH_DATA,
}
STRUCT_KINDS: dict[str, type[dc.Struct]] = {
    "change": c.Change,
    "error": c.Error,
    "dir_entry": c.DirEntry,
    "metadata": c.Metadata,
    "unix_metadata": c.UnixMetadata,
    "windows_metadata": c.WindowsMetadata,
    "permissions": c.Permissions,
    "pty_size": c.PtySize,
    "search_query": c.SearchQuery,
    "search_query_options": c.SearchQueryOptions,
    "search_query_path_match": c.PathMatch,
    "search_query_contents_match": c.ContentsMatch,
    "search_query_submatch": c.Submatch,
    "system_info": c.SystemInfo,
    "tunnel_info": c.TunnelInfo,
    "version": c.Version,
}


def _kind(kind: str) -> dc.Kind[Any]:
    if kind in UNION_KINDS:
        return UNION_KINDS[kind]
    return StructKind(STRUCT_KINDS[kind])


def check_value(v: dict[str, Any]) -> None:
    """A JSON value vector: decode from JSON, re-encode, and round-trip through msgpack."""
    kind = _kind(v["kind"])
    if v.get("valid") is False:
        with pytest.raises(dc.CodecError):
            kind.from_json(v["json"])
        # The same document as msgpack must be rejected too.
        with pytest.raises(dc.CodecError):
            kind.decode(dc.packb(v["json"]))
        return
    value = kind.from_json(v["json"])
    if "serialize" in v["directions"] or "cli" in v["directions"]:
        # Key order matters for msgpack (declaration order), so compare the item lists.
        assert list(_items(kind.to_json(value))) == list(_items(v["json"]))
    # Through msgpack bytes and back, the value is unchanged.
    assert kind.decode(kind.encode(value)) == value
    # And the JSON form of the msgpack-decoded value is the same document.
    assert kind.to_json(kind.decode(kind.encode(value))) == kind.to_json(value)


def _items(o: Any) -> Any:
    if isinstance(o, dict):
        return [(k, _items(x)) for k, x in o.items()]
    if isinstance(o, list):
        return [_items(x) for x in o]
    return o


def check_cli_auth(v: dict[str, Any]) -> None:
    doc = v["json"]
    kind: dc.Kind[Any] = (
        dc.AUTHENTICATION_RESPONSE if doc["type"].endswith("_response") else dc.AUTHENTICATION
    )
    value = kind.from_json(doc)
    assert list(_items(kind.to_json(value))) == list(_items(doc))
    assert json.loads(json.dumps(kind.to_json(value))) == doc


def check_plugin(v: dict[str, Any]) -> None:
    msg = dc.parse_plugin_message(json.dumps(v["json"]))
    again = dc.parse_plugin_message(dc.plugin_message_to_json(msg))
    assert again == msg
    body = v["json"]
    if "ready" in body:
        assert msg == dc.PluginReady(True)
    elif "destination" in body:
        assert msg == dc.PluginDestination(body["destination"])
    elif "error" in body:
        assert isinstance(msg, dc.PluginError)
        assert msg.description == body["error"]["description"]
        assert msg.kind == body["error"].get("kind", "other")
        expected = body["error"].get("kind", "other")
        assert msg.error_kind.value == expected
    else:
        assert isinstance(msg, dc.PluginAuthChallenge)
        ch = body["auth_challenge"]
        assert [q.text for q in msg.questions] == [q["text"] for q in ch["questions"]]
        assert [q.label for q in msg.questions] == [q.get("label", "") for q in ch["questions"]]
        assert msg.options == ch.get("options", {})


def check_request_envelope(v: dict[str, Any]) -> None:
    raw = bytes.fromhex(v["msgpack_hex"])
    env = dc.UntypedRequest.from_bytes(raw)
    assert env.header == v["json"]["header"]
    assert env.id == v["json"]["id"]
    assert dc.unpackb(env.payload) == v["json"]["payload"]
    assert env.to_bytes() == raw


def check_response_envelope(v: dict[str, Any]) -> None:
    raw = bytes.fromhex(v["msgpack_hex"])
    env = dc.UntypedResponse.from_bytes(raw)
    assert env.header == v["json"]["header"]
    assert (env.id, env.origin_id) == (v["json"]["id"], v["json"]["origin_id"])
    assert dc.unpackb(env.payload) == v["json"]["payload"]
    assert env.to_bytes() == raw


def check_header(v: dict[str, Any]) -> None:
    if v["msgpack_hex"] is not None:
        raw = bytes.fromhex(v["msgpack_hex"])
        assert dc.encode_header(v["json"]) == raw
        assert dc.decode_header(raw) == v["json"]
    else:  # deserialize from a JSON object
        header = dc.decode_header(dc.encode_header(v["json"]))
        assert header == v["json"]
        req = dc.Request.from_json({"id": "1", "header": v["json"], "payload": {"type": "status"}},
                                   dc.REQUEST)  # fmt: skip
        assert req.header == v["json"]


def check_frame(v: dict[str, Any]) -> None:
    wire = bytes.fromhex(v["wire_hex"])
    item = v["item_utf8"].encode()
    assert dc.encode_frame(item) == wire
    dec = dc.FrameDecoder()
    dec.feed(wire)
    assert list(dec) == [item]


def check_version_bytes(v: dict[str, Any]) -> None:
    wire = bytes.fromhex(v["wire_hex"])
    ver = dc.ProtocolVersion.parse(v["json"])
    assert ver.to_bytes() == wire
    assert dc.ProtocolVersion.from_bytes(wire) == ver


def check_options_map(v: dict[str, Any]) -> None:
    direction = v["directions"][0]
    if "parse" in direction:
        assert dc.parse_options(v["text"]) == v["json"]
    if "display" in direction:
        assert dc.format_options(v["json"]) == v["text"]
    # Whatever the direction, display then parse is the identity.
    assert dc.parse_options(dc.format_options(v["json"])) == v["json"]


SPECIAL: dict[str, Callable[[dict[str, Any]], None]] = {
    "cli_auth_jsonl": check_cli_auth,
    "plugin_setup_message": check_plugin,
    "request_envelope": check_request_envelope,
    "response_envelope": check_response_envelope,
    "header": check_header,
    "frame": check_frame,
    "version_bytes": check_version_bytes,
    "options_map": check_options_map,
}


def test_vector_file_is_complete() -> None:
    assert len(VECTORS) == 165
    unknown = {v["kind"] for v in VECTORS} - set(SPECIAL) - set(UNION_KINDS) - set(STRUCT_KINDS)
    assert not unknown, f"vector kinds without a check: {unknown}"


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_vector(vector: dict[str, Any]) -> None:
    check = SPECIAL.get(vector["kind"], check_value)
    check(vector)


def test_all_request_and_response_types_have_vectors() -> None:
    req_types = {v["json"]["type"] for v in VECTORS if v["kind"] == "request"}
    resp_types = {v["json"]["type"] for v in VECTORS if v["kind"] == "response"}
    assert req_types == set(dc.REQUEST.variants) and len(req_types) == 29
    assert resp_types == set(dc.RESPONSE.variants) and len(resp_types) == 23
