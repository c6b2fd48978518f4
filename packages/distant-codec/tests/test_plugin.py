"""External plugin setup lines (§11)."""

import pytest

import distant_codec as dc


@pytest.mark.parametrize(
    "line",
    ["", "not json", "[]", '{"ready": "yes"}', '{"destination": 5}', '{"ready": true, "x": 1}',
     '{"bogus": {}}', '{"auth_challenge": {"questions": [{"label": "no text"}]}}',
     '{"error": {"kind": "other"}}'],
)  # fmt: skip
def test_bad_lines(line: str) -> None:
    with pytest.raises(dc.CodecError):
        dc.parse_plugin_message(line)


def test_error_kind_mapping() -> None:
    assert dc.PluginError("x", "permission_denied").error_kind is dc.ErrorKind.PERMISSION_DENIED
    assert dc.PluginError("x", "weird").error_kind is dc.ErrorKind.OTHER


def test_auth_response_line() -> None:
    line = dc.plugin_message_to_json(dc.PluginAuthResponse(("hunter2",)))
    assert line == '{"auth_response":{"answers":["hunter2"]}}'
