"""Request and response envelopes (§6).

On the wire both ends parse an envelope *positionally* before touching the payload (§6.2):
a request is fixmap 2 or 3 with the keys ``header``?, ``id``, ``payload`` in that order; a
response is fixmap 3 or 4 with ``header``?, ``id``, ``origin_id``, ``payload``. Everything
after the ``payload`` key is the payload. :class:`UntypedRequest` and
:class:`UntypedResponse` hold that payload as raw msgpack bytes, which is what the manager
forwards without decoding (§6.3). :class:`Request` and :class:`Response` are the typed forms.

Inside the manager's ``channel`` messages the untyped envelopes travel in their serde form
instead: ``{"header"?: [u8...], "id": str, "payload": [u8...]}`` (§9.2), see
:data:`UNTYPED_REQUEST` and :data:`UNTYPED_RESPONSE`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any, Generic, TypeVar, cast

import msgpack

from .errors import CodecError
from .schema import ANY, BYTE_ARRAY, Kind, field, packb, struct, unpackb

__all__ = [
    "Header",
    "UntypedRequest",
    "UntypedResponse",
    "Request",
    "Response",
    "UNTYPED_REQUEST",
    "UNTYPED_RESPONSE",
    "BinParts",
    "new_id",
    "encode_header",
    "decode_header",
]

T = TypeVar("T")

Header = dict[str, Any]
"""Envelope header: string keys, any msgpack/JSON values; only ``sequence`` has meaning."""

_KEY_HEADER = b"\xa6header"
_KEY_ID = b"\xa2id"
_KEY_ORIGIN = b"\xa9origin_id"
_KEY_PAYLOAD = b"\xa7payload"


def new_id() -> str:
    """A fresh envelope id, as Rust makes them: a random u64 in decimal."""
    return str(int.from_bytes(os.urandom(8)))  # secrets.randbits(64), without its imports


def encode_header(header: Header) -> bytes:
    return packb(header)


def decode_header(data: bytes | memoryview, path: str = "header") -> Header:
    obj = unpackb(data)
    return _check_header(obj, path)


def _check_header(obj: Any, path: str) -> Header:
    if type(obj) is not dict or any(type(k) is not str for k in obj):
        raise CodecError(f"{path}: expected a map with string keys")
    return obj


class _Cursor:
    """Reads the few msgpack items an envelope is made of, without copying the payload."""

    __slots__ = ("buf", "pos")

    def __init__(self, buf: memoryview) -> None:
        self.buf = buf
        self.pos = 0

    def str_(self, what: str) -> str:
        buf, pos = self.buf, self.pos
        if pos >= len(buf):
            raise CodecError(f"envelope truncated before {what}")
        m = buf[pos]
        if 0xA0 <= m <= 0xBF:
            n, pos = m & 0x1F, pos + 1
        elif m == 0xD9 and pos + 2 <= len(buf):
            n, pos = buf[pos + 1], pos + 2
        elif m == 0xDA and pos + 3 <= len(buf):
            n, pos = int.from_bytes(buf[pos + 1 : pos + 3], "big"), pos + 3
        elif m == 0xDB and pos + 5 <= len(buf):
            n, pos = int.from_bytes(buf[pos + 1 : pos + 5], "big"), pos + 5
        else:
            raise CodecError(f"envelope: {what} must be a msgpack str")
        end = pos + n
        if end > len(buf):
            raise CodecError(f"envelope truncated in {what}")
        try:
            text = bytes(buf[pos:end]).decode("utf-8")
        except UnicodeDecodeError:
            raise CodecError(f"envelope: {what} is not valid UTF-8") from None
        self.pos = end
        return text

    def key(self, expected: str) -> None:
        if self.str_(f"key {expected!r}") != expected:
            raise CodecError(f"envelope: expected key {expected!r} here")

    def header(self) -> Header:
        unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
        try:
            unpacker.feed(self.buf[self.pos :])
            obj = unpacker.unpack()
        except Exception as exc:
            raise CodecError(f"envelope: bad header: {exc}") from None
        self.pos += unpacker.tell()
        return _check_header(obj, "header")

    def rest(self) -> memoryview:
        return self.buf[self.pos :]


def _open(
    data: bytes | bytearray | memoryview, sizes: tuple[int, int], what: str
) -> tuple[_Cursor, bool]:
    buf = memoryview(data)
    if not buf:
        raise CodecError(f"{what}: empty")
    first = buf[0]
    if first == 0x80 | sizes[0]:
        has_header = False
    elif first == 0x80 | sizes[1]:
        has_header = True
    else:
        raise CodecError(
            f"{what}: expected a fixmap of {sizes[0]} or {sizes[1]} entries, got 0x{first:02x}"
        )
    cur = _Cursor(buf)
    cur.pos = 1
    return cur, has_header


def _fixstr(buf: memoryview, pos: int) -> tuple[str, int] | None:
    """A fixstr (at most 31 bytes, what ids nearly always are) at ``pos``, or None."""
    if pos >= len(buf):
        return None
    marker = buf[pos]
    if not 0xA0 <= marker <= 0xBF:
        return None
    end = pos + 1 + (marker & 0x1F)
    if end > len(buf):
        return None
    try:
        return str(buf[pos + 1 : end], "utf-8"), end
    except UnicodeDecodeError:
        return None


_REQUEST_PREFIX = b"\x82" + _KEY_ID
_RESPONSE_PREFIX = b"\x83" + _KEY_ID
_PAYLOAD_LEN = len(_KEY_PAYLOAD)
_ORIGIN_LEN = len(_KEY_ORIGIN)


def _request_head(data: bytes | bytearray | memoryview) -> tuple[Header, str, memoryview]:
    """Header, id and a view of the payload bytes of a positional request."""
    buf = memoryview(data)
    # Fast path: no header, fixstr id: the layout every peer sends in practice.
    if buf[:4] == _REQUEST_PREFIX:
        fast = _fixstr(buf, 4)
        if fast is not None and buf[fast[1] : fast[1] + _PAYLOAD_LEN] == _KEY_PAYLOAD:
            return {}, fast[0], buf[fast[1] + _PAYLOAD_LEN :]
    cur, has_header = _open(data, (2, 3), "request envelope")
    header: Header = {}
    if has_header:
        cur.key("header")
        header = cur.header()
    cur.key("id")
    rid = cur.str_("id")
    cur.key("payload")
    return header, rid, cur.rest()


def _response_head(
    data: bytes | bytearray | memoryview,
) -> tuple[Header, str, str, memoryview]:
    """Header, id, origin id and a view of the payload bytes of a positional response."""
    buf = memoryview(data)
    if buf[:4] == _RESPONSE_PREFIX:  # fast path, as for requests
        fast = _fixstr(buf, 4)
        if fast is not None and buf[fast[1] : fast[1] + _ORIGIN_LEN] == _KEY_ORIGIN:
            fast_origin = _fixstr(buf, fast[1] + _ORIGIN_LEN)
            end = fast_origin[1] if fast_origin is not None else 0
            if fast_origin is not None and buf[end : end + _PAYLOAD_LEN] == _KEY_PAYLOAD:
                return {}, fast[0], fast_origin[0], buf[end + _PAYLOAD_LEN :]
    cur, has_header = _open(data, (3, 4), "response envelope")
    header: Header = {}
    if has_header:
        cur.key("header")
        header = cur.header()
    cur.key("id")
    rid = cur.str_("id")
    cur.key("origin_id")
    origin = cur.str_("origin_id")
    cur.key("payload")
    return header, rid, origin, cur.rest()


LARGE_BIN = 64 * 1024
"""Binary payload fields at least this large are packed around, not through, msgpack."""

_BINARY = (bytes, bytearray, memoryview)

Buffer = bytes | bytearray | memoryview
"""A flat byte buffer (``memoryview``s of bytes only)."""


class BinParts:
    """The value of an outgoing binary field as consecutive buffers, not yet joined.

    A reader that receives data in blocks (SFTP replies) would join them into one ``bytes``
    only for :meth:`Response.to_bytes` to copy that into the frame: with ``BinParts`` the
    blocks are copied once, straight into the frame (:func:`_pack_envelope`), and the wire
    bytes are the same. It is for the outgoing side only: give it to a ``Bin`` field
    through :meth:`as_field`, and let nothing but ``to_bytes`` read that field (the
    ``to_untyped``/JSON forms do not know it; ``bytes(parts)`` joins it when needed).
    """

    __slots__ = ("nbytes", "parts")

    def __init__(self, parts: Iterable[Buffer]) -> None:
        self.parts: tuple[Buffer, ...] = tuple(part for part in parts if len(part))
        self.nbytes = sum(len(part) for part in self.parts)

    def __len__(self) -> int:
        return self.nbytes

    def __bytes__(self) -> bytes:
        return b"".join(self.parts)

    def __repr__(self) -> str:
        return f"<BinParts {len(self.parts)} parts, {self.nbytes} bytes>"

    def prefix(self, size: int) -> BinParts:
        """The first ``size`` bytes (the last part kept is cut as a view, not copied)."""
        kept: list[Buffer] = []
        left = size
        for part in self.parts:
            if left <= 0:
                break
            kept.append(part if len(part) <= left else memoryview(part)[:left])
            left -= len(part)
        return BinParts(kept)

    def as_field(self) -> bytes:
        """This value for a ``Bin`` (``bytes``) field of an outgoing struct: typed as the
        ``bytes`` it stands for, which only :func:`_pack_envelope` (``to_bytes``) reads."""
        return cast(bytes, self)


def _pack_envelope(obj: dict[str, Any]) -> bytes:
    """``packb(obj)`` for a typed envelope whose ``payload`` comes last.

    A payload that is one struct with a large binary field (a file chunk, a blob, process
    output) is packed in pieces around that field, which then crosses into the result in
    one copy: msgpack would copy it into its buffer (growing it by doubling, copying again)
    and then out into the result. The bytes are the same as ``packb(obj)``'s: map headers
    are msgpack's fixmap for the at most 15 entries this path takes, entries keep their
    order, and a bin of 64 KiB or more always has the 5-byte ``bin 32`` header. A
    :class:`BinParts` field takes this path whatever its size (its parts are copied into
    the result, so they are joined only once); elsewhere in a payload (a batch) it is
    joined first.
    """
    payload = obj["payload"]
    if type(payload) is not dict or len(payload) > 15:
        return _packb_joined(obj)
    name = None
    for key, value in payload.items():
        kind = type(value)
        if kind is BinParts or (kind in _BINARY and len(value) >= LARGE_BIN):
            name = key
            break
    if name is None:
        return packb(obj)
    value = payload[name]
    parts: tuple[Buffer, ...]
    if type(value) is BinParts:
        parts, nbytes = value.parts, value.nbytes
        if nbytes < LARGE_BIN:
            return _packb_joined(obj)  # msgpack's smaller bin headers
    else:
        data = memoryview(value)
        if not data.c_contiguous or data.itemsize != 1:
            return packb(obj)  # pragma: no cover - file data is always a flat byte buffer
        parts, nbytes = (data,), data.nbytes
    if nbytes >= 2**32:
        return _packb_joined(obj)  # pragma: no cover - far above any frame
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    side = before
    for key, item in payload.items():
        if key == name:
            side = after
        else:
            side[key] = item
    envelope = {key: item for key, item in obj.items() if key != "payload"}
    head = b"".join(
        (
            bytes((0x80 | len(obj),)), packb(envelope)[1:], _KEY_PAYLOAD,
            bytes((0x80 | len(payload),)), packb(before)[1:], packb(name),
            b"\xc6", nbytes.to_bytes(4, "big"),
        )
    )  # fmt: skip
    return b"".join((head, *parts, packb(after)[1:]))


def _packb_joined(obj: Any) -> bytes:
    """``packb``, joining any :class:`BinParts` first (msgpack does not know them); the
    walk happens only when ``packb`` met one."""
    try:
        return packb(obj)
    except TypeError:
        return packb(_joined(obj))


def _joined(obj: Any) -> Any:
    if type(obj) is BinParts:
        return bytes(obj)
    if type(obj) is dict:
        return {key: _joined(value) for key, value in obj.items()}
    if type(obj) is list or type(obj) is tuple:
        return [_joined(item) for item in obj]
    return obj


@struct
class UntypedRequest:
    """A request whose payload is still raw msgpack bytes."""

    id: str
    payload: bytes
    header: Header = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        """The positional msgpack form of §6.2."""
        if self.header:
            return b"".join(
                (b"\x83", _KEY_HEADER, packb(self.header), _KEY_ID, packb(self.id),
                 _KEY_PAYLOAD, self.payload)
            )  # fmt: skip
        return b"".join((b"\x82", _KEY_ID, packb(self.id), _KEY_PAYLOAD, self.payload))

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> UntypedRequest:
        header, rid, payload = _request_head(data)
        return cls(rid, bytes(payload), header)


@struct
class UntypedResponse:
    """A response whose payload is still raw msgpack bytes."""

    id: str
    origin_id: str
    payload: bytes
    header: Header = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        """The positional msgpack form of §6.2."""
        parts = [b"\x84", _KEY_HEADER, packb(self.header)] if self.header else [b"\x83"]
        parts += (_KEY_ID, packb(self.id), _KEY_ORIGIN, packb(self.origin_id), _KEY_PAYLOAD,
                  self.payload)  # fmt: skip
        return b"".join(parts)

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> UntypedResponse:
        header, rid, origin, payload = _response_head(data)
        return cls(rid, origin, bytes(payload), header)


@struct
class Request(Generic[T]):
    """A typed request envelope: ``{"header"?, "id", "payload"}``."""

    payload: T
    id: str = field(default_factory=new_id)
    header: Header = field(default_factory=dict)

    def to_untyped(self, kind: Kind[T]) -> UntypedRequest:
        return UntypedRequest(self.id, kind.encode(self.payload), self.header)

    def to_bytes(self, kind: Kind[T]) -> bytes:
        """The positional form of §6.2, packed in one pass.

        msgpack packs a dict in insertion order with fixstr keys, so this dict *is* the
        positional layout; one ``packb`` avoids copying the payload twice.
        """
        obj: dict[str, Any] = {"header": self.header} if self.header else {}
        obj["id"] = self.id
        obj["payload"] = kind.to_obj(self.payload)
        return _pack_envelope(obj)

    @classmethod
    def from_untyped(cls, u: UntypedRequest, kind: Kind[T]) -> Request[T]:
        return cls(kind.decode(u.payload, "payload"), u.id, u.header)

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview, kind: Kind[T]) -> Request[T]:
        """Parses the envelope positionally, then decodes the payload in place."""
        header, rid, payload = _request_head(data)
        return cls(kind.decode(payload, "payload"), rid, header)

    def to_json(self, kind: Kind[T]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.header:
            out["header"] = ANY.to_json(self.header)
        out["id"] = self.id
        out["payload"] = kind.to_json(self.payload)
        return out

    @classmethod
    def from_json(cls, o: Any, kind: Kind[T]) -> Request[T]:
        """Unknown top-level keys are ignored, as ``distant api`` does (§10)."""
        if type(o) is not dict:
            raise CodecError("request: expected a JSON object")
        rid = o.get("id")
        if type(rid) is not str:
            raise CodecError("request: 'id' must be a string")
        if "payload" not in o:
            raise CodecError("request: missing field 'payload'")
        header = _check_header(o.get("header") or {}, "request.header")
        return cls(kind.from_json(o["payload"], "payload"), rid, header)


@struct
class Response(Generic[T]):
    """A typed response envelope: ``{"header"?, "id", "origin_id", "payload"}``."""

    origin_id: str
    payload: T
    id: str = field(default_factory=new_id)
    header: Header = field(default_factory=dict)

    def to_untyped(self, kind: Kind[T]) -> UntypedResponse:
        return UntypedResponse(self.id, self.origin_id, kind.encode(self.payload), self.header)

    def to_bytes(self, kind: Kind[T]) -> bytes:
        """The positional form of §6.2, packed in one pass (see :meth:`Request.to_bytes`)."""
        obj: dict[str, Any] = {"header": self.header} if self.header else {}
        obj["id"] = self.id
        obj["origin_id"] = self.origin_id
        obj["payload"] = kind.to_obj(self.payload)
        return _pack_envelope(obj)

    @classmethod
    def from_untyped(cls, u: UntypedResponse, kind: Kind[T]) -> Response[T]:
        return cls(u.origin_id, kind.decode(u.payload, "payload"), u.id, u.header)

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview, kind: Kind[T]) -> Response[T]:
        """Parses the envelope positionally, then decodes the payload in place."""
        header, rid, origin, payload = _response_head(data)
        return cls(origin, kind.decode(payload, "payload"), rid, header)

    def to_json(self, kind: Kind[T]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.header:
            out["header"] = ANY.to_json(self.header)
        out["id"] = self.id
        out["origin_id"] = self.origin_id
        out["payload"] = kind.to_json(self.payload)
        return out

    @classmethod
    def from_json(cls, o: Any, kind: Kind[T]) -> Response[T]:
        if type(o) is not dict:
            raise CodecError("response: expected a JSON object")
        rid, origin = o.get("id"), o.get("origin_id")
        if type(rid) is not str or type(origin) is not str:
            raise CodecError("response: 'id' and 'origin_id' must be strings")
        if "payload" not in o:
            raise CodecError("response: missing field 'payload'")
        header = _check_header(o.get("header") or {}, "response.header")
        return cls(origin, kind.from_json(o["payload"], "payload"), rid, header)


class _UntypedSerdeKind(Kind[Any]):
    """The serde-derived form of an untyped envelope used inside manager ``channel``
    messages: header and payload are the msgpack bytes as arrays of ints (§9.2)."""

    def __init__(self, name: str, id_keys: tuple[str, ...]) -> None:
        self.name = name
        self.id_keys = id_keys

    def to_obj(self, v: Any) -> Any:
        out: dict[str, Any] = {}
        if v.header:
            out["header"] = list(encode_header(v.header))
        for k in self.id_keys:
            out[k] = getattr(v, k)
        out["payload"] = list(v.payload)
        return out

    def from_obj(self, o: Any, path: str = "") -> Any:
        path = path or self.name
        if type(o) is not dict:
            raise CodecError(f"{path}: expected a map")
        allowed = {"header", "payload", *self.id_keys}
        extra = [k for k in o if k not in allowed]
        if extra:
            raise CodecError(f"{path}: unknown field(s) {extra!r}")
        ids = []
        for k in self.id_keys:
            v = o.get(k)
            if type(v) is not str:
                raise CodecError(f"{path}.{k}: expected a string")
            ids.append(v)
        if "payload" not in o:
            raise CodecError(f"{path}: missing field 'payload'")
        payload = BYTE_ARRAY.from_obj(o["payload"], f"{path}.payload")
        header: Header = {}
        if o.get("header") is not None:
            header = decode_header(BYTE_ARRAY.from_obj(o["header"], f"{path}.header"))
        if self.id_keys == ("id",):
            return UntypedRequest(ids[0], payload, header)
        return UntypedResponse(ids[0], ids[1], payload, header)

    def from_json(self, o: Any, path: str = "") -> Any:
        return self.from_obj(o, path)


UNTYPED_REQUEST: Kind[UntypedRequest] = _UntypedSerdeKind("UntypedRequest", ("id",))
UNTYPED_RESPONSE: Kind[UntypedResponse] = _UntypedSerdeKind("UntypedResponse", ("id", "origin_id"))
