"""Behaviours of the schema engine that the vectors do not pin down on their own."""

from __future__ import annotations

import pytest

import distant_codec as dc
from distant_codec import common as c
from distant_codec import requests as rq
from distant_codec import responses as rs


def test_defaults_are_omitted_and_always_fields_are_not() -> None:
    assert dc.REQUEST.to_json(rq.DirRead("p")) == {"type": "dir_read", "path": "p"}
    assert dc.REQUEST.to_json(rq.SetPermissions("p", c.Permissions())) == {
        "type": "set_permissions", "path": "p", "permissions": {}, "options": {}
    }  # fmt: skip
    assert c.PtySize(1, 2).to_json() == {"rows": 1, "cols": 2, "pixel_width": 0, "pixel_height": 0}


def test_bytes_are_bin_in_msgpack_and_arrays_in_json() -> None:
    raw = dc.RESPONSE.encode(rs.Blob(b"\x81"))
    assert b"\xc4\x01\x81" in raw  # bin8
    assert dc.RESPONSE.to_json(rs.Blob(b"\x81")) == {"type": "blob", "data": [129]}
    # Search match data that is not UTF-8 travels as a msgpack *array* of ints.
    sub = c.Submatch(b"\x81", 0, 1)
    assert b"\x91\xcc\x81" in sub.to_msgpack()


def test_python_keyword_fields_use_the_wire_name() -> None:
    watch = rq.Watch("p", only=(c.ChangeKind.ACCESS,), except_=(c.ChangeKind.MODIFY,))
    assert dc.REQUEST.to_json(watch)["except"] == ["modify"]
    assert dc.REQUEST.from_json({"type": "watch", "path": "p", "except": ["modify"]}) == rq.Watch(
        "p", except_=(c.ChangeKind.MODIFY,)
    )


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"type": "exists"}, "missing field 'path'"),
        ({"type": "exists", "path": 1}, "Request.exists.path: expected a string"),
        ({"type": "exists", "path": "p", "x": 1}, "unknown field(s) 'x'"),
        ({"type": "nope"}, "unknown Request type 'nope'"),
        ({"path": "p"}, "missing 'type'"),
        ({"type": "proc_kill", "id": 2**32}, "out of range for u32"),
        ({"type": "proc_kill", "id": True}, "expected u32"),
        ({"type": "file_write", "path": "p", "data": [256]}, "array of bytes"),
    ],
)
def test_errors_name_the_field(doc: dict[str, object], message: str) -> None:
    with pytest.raises(dc.CodecError, match=None) as info:
        dc.REQUEST.from_json(doc)
    assert message in str(info.value)


def test_unknown_verification_kind_decodes_as_unknown() -> None:
    msg = dc.AUTHENTICATION.from_json({"type": "auth_verification", "kind": "x", "text": "t"})
    assert msg == dc.AuthVerification(dc.VerificationKind.UNKNOWN, "t")


def test_manager_list_uses_integer_keys_in_msgpack() -> None:
    from distant_codec import manager_responses as ms

    value = ms.List({7: "distant://h:1"})
    raw = dc.MANAGER_RESPONSE.encode(value)
    assert dc.unpackb(raw) == {"type": "list", 7: "distant://h:1"}
    assert dc.MANAGER_RESPONSE.to_json(value) == {"type": "list", "7": "distant://h:1"}
    assert dc.MANAGER_RESPONSE.decode(raw) == value


def test_secrets_are_redacted_in_reprs() -> None:
    assert "hunter2" not in repr(dc.AuthChallengeResponse(("hunter2",)))
    assert "hunter2" not in repr(dc.PluginAuthResponse(("hunter2",)))


def test_permissions_apply_to_mode() -> None:
    perms = c.Permissions(owner_exec=True, other_read=False)
    assert perms.apply_to(0o604) == 0o700
    assert c.Permissions.from_mode(0o755).to_mode() == 0o755
    assert c.UnixMetadata.from_mode(0o640).to_mode() == 0o640
