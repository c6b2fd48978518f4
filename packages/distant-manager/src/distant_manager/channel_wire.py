"""Channel messages on the manager socket, encoded without the schema engine.

``channel`` requests and responses carry an untyped envelope whose header and payload are
msgpack bytes (§9.2-9.3). Upstream encodes them as arrays of integers, which costs one
Python int per byte; a 2 MiB file chunk would take tens of milliseconds to convert.

Extension (negotiated per channel): a client that sends ``open_channel`` with the envelope
header ``{"bin_payloads": true}`` gets back ``channel_opened`` with the same header from a
manager that supports it, and from then on both sides use msgpack ``bin`` for those two
fields on that channel. A Rust manager ignores the header and a Rust client never sends
it, so neither ever sees a ``bin``. Decoders accept both forms.
"""

from __future__ import annotations

from typing import Any

from distant_codec import (
    CodecError,
    Header,
    UntypedRequest,
    UntypedResponse,
    decode_header,
    encode_header,
    packb,
    unpackb,
)

__all__ = [
    "BIN_PAYLOADS",
    "channel_request_parts",
    "encode_channel_request",
    "encode_channel_response",
    "decode_channel_response",
    "wants_bin_payloads",
]

BIN_PAYLOADS = "bin_payloads"
"""The envelope header key that opts a channel into ``bin`` header/payload fields."""


def wants_bin_payloads(header: Header) -> bool:
    return header.get(BIN_PAYLOADS) is True


def _bytes_field(data: bytes, binary: bool) -> Any:
    return data if binary else list(data)


def encode_channel_request(channel_id: int, request: UntypedRequest, *, binary: bool) -> bytes:
    """The msgpack payload of a ``channel`` manager request."""
    inner: dict[str, Any] = {}
    if request.header:
        inner["header"] = _bytes_field(encode_header(request.header), binary)
    inner["id"] = request.id
    inner["payload"] = _bytes_field(request.payload, binary)
    return packb({"type": "channel", "id": channel_id, "request": inner})


def encode_channel_response(channel_id: int, response: UntypedResponse, *, binary: bool) -> bytes:
    """The msgpack payload of a ``channel`` manager response."""
    inner: dict[str, Any] = {}
    if response.header:
        inner["header"] = _bytes_field(encode_header(response.header), binary)
    inner["id"] = response.id
    inner["origin_id"] = response.origin_id
    inner["payload"] = _bytes_field(response.payload, binary)
    return packb({"type": "channel", "id": channel_id, "response": inner})


def _bin_header(n: int) -> bytes:
    if n < 0x100:
        return b"\xc4" + n.to_bytes(1, "big")
    if n < 0x10000:
        return b"\xc5" + n.to_bytes(2, "big")
    return b"\xc6" + n.to_bytes(4, "big")


def channel_request_parts(
    channel_id: int, request: UntypedRequest, envelope_id: str
) -> list[bytes]:
    """The whole manager envelope of a bin-payload ``channel`` request, as parts to send
    by scatter-gather: exactly the bytes of ``UntypedRequest(envelope_id,
    encode_channel_request(channel_id, request, binary=True)).to_bytes()``, without copying
    ``request.payload`` (an upload chunk) into them."""
    head = [b"\x82", packb("id"), packb(envelope_id), packb("payload")]
    head += [b"\x83", packb("type"), packb("channel"), packb("id"), packb(channel_id)]
    head.append(packb("request"))
    if request.header:
        head += [b"\x83", packb("header"), packb(encode_header(request.header))]
    else:
        head.append(b"\x82")
    head += [packb("id"), packb(request.id), packb("payload"), _bin_header(len(request.payload))]
    return [b"".join(head), request.payload]


def _as_bytes(value: Any, what: str) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, list):
        try:
            return bytes(value)
        except (TypeError, ValueError):
            pass
    raise CodecError(f"{what}: expected bytes")


def decode_channel_response(payload: bytes | memoryview) -> tuple[int, UntypedResponse] | None:
    """``(channel id, inner response)`` if ``payload`` is a ``channel`` manager response,
    ``None`` for any other manager response; :class:`CodecError` if it is malformed."""
    obj = unpackb(payload)
    if type(obj) is not dict or obj.get("type") != "channel":
        return None
    cid = obj.get("id")
    inner = obj.get("response")
    if type(cid) is not int or type(inner) is not dict:
        raise CodecError("channel response: bad id or response")
    rid, origin = inner.get("id"), inner.get("origin_id")
    if type(rid) is not str or type(origin) is not str:
        raise CodecError("channel response: id and origin_id must be strings")
    header: Header = {}
    if inner.get("header") is not None:
        header = decode_header(_as_bytes(inner["header"], "channel response header"))
    body = _as_bytes(inner.get("payload"), "channel response payload")
    return cid, UntypedResponse(rid, origin, body, header)
