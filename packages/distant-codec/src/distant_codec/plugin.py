"""External plugin setup messages (§11 and the plugin binary specification).

During setup a plugin process writes one JSON object per line on stdout. The messages are
serde-untagged: each is a one-key object whose key says what it is::

    {"auth_challenge": {"questions": [{"text": ..., "label"?: ..., "options"?: {}}],
                        "options"?: {}}}
    {"ready": true}
    {"destination": "scheme://host:port"}
    {"error": {"kind"?: "not_found", "description": "..."}}

The manager answers each challenge with ``{"auth_response": {"answers": [...]}}``.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from .common import ErrorKind
from .errors import CodecError
from .schema import Struct, field, struct

__all__ = [
    "PluginQuestion",
    "PluginAuthChallenge",
    "PluginReady",
    "PluginDestination",
    "PluginError",
    "PluginAuthResponse",
    "PluginSetupMessage",
    "parse_plugin_message",
    "plugin_message_to_json",
]


@struct
class PluginQuestion(Struct):
    text: str
    label: str = ""
    options: dict[str, str] = field(default_factory=dict)


@struct
class PluginAuthChallenge(Struct):
    KEY: ClassVar[str] = "auth_challenge"
    questions: tuple[PluginQuestion, ...]
    options: dict[str, str] = field(default_factory=dict)


@struct
class PluginReady(Struct):
    """Connect setup finished; the data phase starts after this line."""

    KEY: ClassVar[str] = "ready"
    ready: bool = True


@struct
class PluginDestination(Struct):
    """Launch finished; the destination to connect to."""

    KEY: ClassVar[str] = "destination"
    destination: str


_PLUGIN_ERROR_KINDS = {
    "not_found": ErrorKind.NOT_FOUND,
    "permission_denied": ErrorKind.PERMISSION_DENIED,
    "connection_refused": ErrorKind.CONNECTION_REFUSED,
    "unsupported": ErrorKind.UNSUPPORTED,
}


@struct
class PluginError(Struct):
    KEY: ClassVar[str] = "error"
    description: str
    kind: str = "other"

    @property
    def error_kind(self) -> ErrorKind:
        """The io kind this maps to; anything not listed by the spec is ``other``."""
        return _PLUGIN_ERROR_KINDS.get(self.kind, ErrorKind.OTHER)


@struct
class PluginAuthResponse(Struct):
    KEY: ClassVar[str] = "auth_response"
    answers: tuple[str, ...]

    def __repr__(self) -> str:
        return f"PluginAuthResponse(answers=<{len(self.answers)} redacted>)"


PluginSetupMessage = (
    PluginAuthChallenge | PluginReady | PluginDestination | PluginError | PluginAuthResponse
)
_BY_KEY: dict[str, type[Struct]] = {
    "auth_challenge": PluginAuthChallenge,
    "destination": PluginDestination,
    "error": PluginError,
    "auth_response": PluginAuthResponse,
}


def parse_plugin_message(line: str | bytes | Any) -> PluginSetupMessage:
    """Parse one setup line (or an already-decoded JSON object)."""
    if isinstance(line, str | bytes):
        try:
            obj = json.loads(line)
        except (ValueError, UnicodeDecodeError) as exc:
            raise CodecError(f"plugin message: not JSON: {exc}") from None
    else:
        obj = line
    if type(obj) is not dict or len(obj) != 1:
        raise CodecError("plugin message: expected a JSON object with exactly one key")
    ((key, body),) = obj.items()
    if key == "ready":
        if type(body) is not bool:
            raise CodecError("plugin message: 'ready' must be a bool")
        return PluginReady(body)
    if key == "destination":
        if type(body) is not str:
            raise CodecError("plugin message: 'destination' must be a string")
        return PluginDestination(body)
    cls = _BY_KEY.get(key)
    if cls is None:
        raise CodecError(f"plugin message: unknown message {key!r}")
    return cls.from_json(body, f"plugin.{key}")  # type: ignore[return-value]


def plugin_message_to_json(msg: PluginSetupMessage) -> str:
    """One compact JSON line (without the newline)."""
    if isinstance(msg, PluginReady):
        body: Any = msg.ready
    elif isinstance(msg, PluginDestination):
        body = msg.destination
    else:
        body = msg.to_json()
    return json.dumps({msg.KEY: body}, separators=(",", ":"))
