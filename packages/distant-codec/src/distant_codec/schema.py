"""A small declarative schema that maps frozen records to msgpack and to JSON.

Every message in the protocol is a frozen record (a class decorated with :func:`struct`)
deriving from :class:`Struct`. Its fields are read from the type hints, and each becomes a
:class:`Kind` that knows both wire forms (§1 of the spec):

* msgpack: maps keyed by field name in declaration order, ``bin`` for :data:`Bin`
  fields, arrays of ints for :data:`ByteArray` fields;
* JSON: the same, except that every byte string is an array of ints.

A field that has a default is omitted on output when it equals its default, unless it is
marked :data:`ALWAYS`. Unknown keys are rejected (serde's ``deny_unknown_fields``) unless
the class sets ``ALLOW_EXTRA = True``. Every failure while decoding raises
:class:`~distant_codec.errors.CodecError` with the path of the bad field.

Internally tagged enums (``{"type": ..., fields...}``) are :class:`TaggedUnion` kinds.

:func:`struct` stands in for ``@dataclass(frozen=True, slots=True)``: the same typing (it is a
``dataclass_transform``) and instance semantics, at a fraction of the import cost, since it
generates no code per class until one is first constructed (see :func:`struct`). Real frozen
dataclasses deriving from :class:`Struct` keep working too.
"""

from __future__ import annotations

import enum
import threading
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Annotated, Any, ClassVar, Generic, TypeVar, Union, get_args, get_origin

import msgpack

from ._records import MISSING as _MISSING
from ._records import Field, FrozenInstanceError, field, renamed, struct
from .errors import CodecError

__all__ = [
    "struct",
    "field",
    "renamed",
    "FrozenInstanceError",
    "Kind",
    "Struct",
    "TaggedUnion",
    "Untagged",
    "ALWAYS",
    "Bin",
    "ByteArray",
    "U8",
    "U16",
    "U32",
    "U64",
    "I32",
    "I64",
    "STR",
    "BOOL",
    "UINT8",
    "UINT16",
    "UINT32",
    "UINT64",
    "INT32",
    "INT64",
    "BIN",
    "BYTE_ARRAY",
    "ANY",
    "EnumKind",
    "ListKind",
    "MapKind",
    "OptionalKind",
    "StructKind",
    "kind_of",
    "packb",
    "unpackb",
]

T = TypeVar("T")
S = TypeVar("S", bound="Struct")


_local = threading.local()


def packb(obj: Any) -> bytes:
    """Encode a msgpack-ready object exactly as rmp-serde's ``to_vec_named`` would.

    Each thread keeps one ``Packer``: ``msgpack.packb`` would allocate a fresh 256 KiB
    buffer per call, above glibc's mmap threshold, and page-fault it in every time.
    """
    packer = getattr(_local, "packer", None)
    if packer is None:
        packer = _local.packer = msgpack.Packer(use_bin_type=True)
    try:
        out: bytes = packer.pack(obj)
    except BaseException:
        packer.reset()  # a failed pack may leave partial output behind
        raise
    if len(out) > _KEEP_PACKER_BELOW:
        _local.packer = None  # do not keep a multi-MiB buffer alive after one big message
    return out


_KEEP_PACKER_BELOW = 1024 * 1024


def unpackb(data: bytes | bytearray | memoryview) -> Any:
    """Decode one msgpack document; anything malformed becomes :class:`CodecError`.

    Integer map keys are allowed because the manager's ``list`` response uses them.
    """
    try:
        return msgpack.unpackb(data, raw=False, strict_map_key=False, use_list=True)
    except CodecError:
        raise
    except Exception as exc:  # msgpack raises a zoo of types on garbage
        raise CodecError(f"undecodable msgpack: {exc}") from None


def _where(path: str) -> str:
    return path or "value"


def _type_name(o: object) -> str:
    return type(o).__name__


class Kind(Generic[T]):
    """Converts one value between its Python form and the two wire forms."""

    name: str = "value"

    def to_obj(self, v: T) -> Any:
        """Python value → msgpack-ready object."""
        raise NotImplementedError

    def from_obj(self, o: Any, path: str = "") -> T:
        """Decoded msgpack object → Python value; raises CodecError."""
        raise NotImplementedError

    def to_json(self, v: T) -> Any:
        """Python value → JSON-ready object (bytes become int arrays)."""
        return self.to_obj(v)

    def from_json(self, o: Any, path: str = "") -> T:
        """Decoded JSON object → Python value; raises CodecError."""
        return self.from_obj(o, path)

    # Conveniences over the two object forms.
    def encode(self, v: T) -> bytes:
        return packb(self.to_obj(v))

    def decode(self, data: bytes | bytearray | memoryview, path: str = "") -> T:
        return self.from_obj(unpackb(data), path)


class _StrKind(Kind[str]):
    name = "str"

    def to_obj(self, v: str) -> Any:
        return v

    def from_obj(self, o: Any, path: str = "") -> str:
        if type(o) is not str:
            raise CodecError(f"{_where(path)}: expected a string, got {_type_name(o)}")
        return o


class _BoolKind(Kind[bool]):
    name = "bool"

    def to_obj(self, v: bool) -> Any:
        return v

    def from_obj(self, o: Any, path: str = "") -> bool:
        if type(o) is not bool:
            raise CodecError(f"{_where(path)}: expected a bool, got {_type_name(o)}")
        return o


class _IntKind(Kind[int]):
    def __init__(self, name: str, lo: int, hi: int) -> None:
        self.name = name
        self.lo = lo
        self.hi = hi

    def to_obj(self, v: int) -> Any:
        return v

    def from_obj(self, o: Any, path: str = "") -> int:
        if type(o) is not int:
            raise CodecError(f"{_where(path)}: expected {self.name}, got {_type_name(o)}")
        if not self.lo <= o <= self.hi:
            raise CodecError(f"{_where(path)}: {o} is out of range for {self.name}")
        return o


def _bytes_from_int_array(o: Any, path: str) -> bytes:
    try:
        return bytes(o)
    except (TypeError, ValueError):
        raise CodecError(f"{_where(path)}: expected an array of bytes 0-255") from None


class _BinKind(Kind[bytes]):
    """``#[serde(with = "serde_bytes")]``: msgpack bin, JSON array of ints."""

    name = "bytes"

    def to_obj(self, v: bytes) -> Any:
        return v

    def from_obj(self, o: Any, path: str = "") -> bytes:
        if type(o) is bytes:
            return o
        if type(o) is list:  # serde_bytes also accepts a sequence of ints
            return _bytes_from_int_array(o, path)
        raise CodecError(f"{_where(path)}: expected bytes, got {_type_name(o)}")

    def to_json(self, v: bytes) -> Any:
        return list(v)

    def from_json(self, o: Any, path: str = "") -> bytes:
        if type(o) is not list:
            raise CodecError(f"{_where(path)}: expected an array of bytes, got {_type_name(o)}")
        return _bytes_from_int_array(o, path)


class _ByteArrayKind(_BinKind):
    """A plain ``Vec<u8>``: an array of ints in msgpack and in JSON."""

    def to_obj(self, v: bytes) -> Any:
        return list(v)


class _AnyKind(Kind[Any]):
    """serde_json::Value semantics, used for header values."""

    name = "any"

    def to_obj(self, v: Any) -> Any:
        return v

    def from_obj(self, o: Any, path: str = "") -> Any:
        return o

    def to_json(self, v: Any) -> Any:
        if isinstance(v, bytes):
            return list(v)
        if isinstance(v, dict):
            return {str(k): self.to_json(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [self.to_json(x) for x in v]
        return v


STR: Kind[str] = _StrKind()
BOOL: Kind[bool] = _BoolKind()
UINT8: Kind[int] = _IntKind("u8", 0, 2**8 - 1)
UINT16: Kind[int] = _IntKind("u16", 0, 2**16 - 1)
UINT32: Kind[int] = _IntKind("u32", 0, 2**32 - 1)
UINT64: Kind[int] = _IntKind("u64", 0, 2**64 - 1)
INT32: Kind[int] = _IntKind("i32", -(2**31), 2**31 - 1)
INT64: Kind[int] = _IntKind("i64", -(2**63), 2**63 - 1)
BIN: Kind[bytes] = _BinKind()
BYTE_ARRAY: Kind[bytes] = _ByteArrayKind()
ANY: Kind[Any] = _AnyKind()

U8 = Annotated[int, UINT8]
U16 = Annotated[int, UINT16]
U32 = Annotated[int, UINT32]
U64 = Annotated[int, UINT64]
I32 = Annotated[int, INT32]
I64 = Annotated[int, INT64]
Bin = Annotated[bytes, BIN]
ByteArray = Annotated[bytes, BYTE_ARRAY]


class _Always:
    """Marker: emit this field even when it equals its default."""

    def __repr__(self) -> str:
        return "ALWAYS"


ALWAYS = _Always()

E = TypeVar("E", bound=enum.Enum)


class EnumKind(Kind[E]):
    """A unit enum encoded as its value string; optionally maps unknown strings to one member
    (serde's ``#[serde(other)]``)."""

    def __init__(self, cls: type[E], unknown: E | None = None) -> None:
        self.cls = cls
        self.name = cls.__name__
        self.unknown = unknown
        self._by_value: dict[Any, E] = {m.value: m for m in cls}

    def to_obj(self, v: E) -> Any:
        return v.value

    def from_obj(self, o: Any, path: str = "") -> E:
        if type(o) is not str:
            raise CodecError(f"{_where(path)}: expected a {self.name} string, got {_type_name(o)}")
        member = self._by_value.get(o)
        if member is not None:
            return member
        if self.unknown is not None:
            return self.unknown
        raise CodecError(f"{_where(path)}: unknown {self.name} {o!r}")


class OptionalKind(Kind[T | None]):
    """``Option<T>``: nil or the inner value."""

    def __init__(self, inner: Kind[T]) -> None:
        self.inner = inner
        self.name = f"{inner.name}?"

    def to_obj(self, v: T | None) -> Any:
        return None if v is None else self.inner.to_obj(v)

    def from_obj(self, o: Any, path: str = "") -> T | None:
        return None if o is None else self.inner.from_obj(o, path)

    def to_json(self, v: T | None) -> Any:
        return None if v is None else self.inner.to_json(v)

    def from_json(self, o: Any, path: str = "") -> T | None:
        return None if o is None else self.inner.from_json(o, path)


class ListKind(Kind[tuple[T, ...]]):
    """A sequence, held as a tuple so that messages stay immutable."""

    def __init__(self, inner: Kind[T]) -> None:
        self.inner = inner
        self.name = f"[{inner.name}]"

    def _check(self, o: Any, path: str) -> list[Any]:
        if type(o) is not list:
            raise CodecError(f"{_where(path)}: expected an array, got {_type_name(o)}")
        return o

    def to_obj(self, v: tuple[T, ...]) -> Any:
        f = self.inner.to_obj
        return [f(x) for x in v]

    def from_obj(self, o: Any, path: str = "") -> tuple[T, ...]:
        f = self.inner.from_obj
        return tuple(f(x, f"{path}[{i}]") for i, x in enumerate(self._check(o, path)))

    def to_json(self, v: tuple[T, ...]) -> Any:
        f = self.inner.to_json
        return [f(x) for x in v]

    def from_json(self, o: Any, path: str = "") -> tuple[T, ...]:
        f = self.inner.from_json
        return tuple(f(x, f"{path}[{i}]") for i, x in enumerate(self._check(o, path)))


class MapKind(Kind[dict[str, T]]):
    """A string-keyed map."""

    def __init__(self, inner: Kind[T]) -> None:
        self.inner = inner
        self.name = f"{{str: {inner.name}}}"

    def _check(self, o: Any, path: str) -> dict[Any, Any]:
        if type(o) is not dict:
            raise CodecError(f"{_where(path)}: expected a map, got {_type_name(o)}")
        for k in o:
            if type(k) is not str:
                raise CodecError(f"{_where(path)}: map keys must be strings, got {_type_name(k)}")
        return o

    def to_obj(self, v: dict[str, T]) -> Any:
        f = self.inner.to_obj
        return {k: f(x) for k, x in v.items()}

    def from_obj(self, o: Any, path: str = "") -> dict[str, T]:
        f = self.inner.from_obj
        return {k: f(x, f"{path}.{k}") for k, x in self._check(o, path).items()}

    def to_json(self, v: dict[str, T]) -> Any:
        f = self.inner.to_json
        return {k: f(x) for k, x in v.items()}

    def from_json(self, o: Any, path: str = "") -> dict[str, T]:
        f = self.inner.from_json
        return {k: f(x, f"{path}.{k}") for k, x in self._check(o, path).items()}


class Untagged(Kind[Any]):
    """An untagged enum: the first alternative that decodes wins (serde ``untagged``).

    Alternatives are tried in order, so list the most specific first. Encoding picks the
    alternative by the value's Python type through ``encoders``.
    """

    def __init__(self, name: str, alternatives: list[tuple[type, Kind[Any]]]) -> None:
        self.name = name
        self.alternatives = alternatives

    def _pick(self, v: Any) -> Kind[Any]:
        for typ, kind in self.alternatives:
            if isinstance(v, typ):
                return kind
        raise TypeError(f"{self.name}: cannot encode a {_type_name(v)}")

    def to_obj(self, v: Any) -> Any:
        return self._pick(v).to_obj(v)

    def to_json(self, v: Any) -> Any:
        return self._pick(v).to_json(v)

    def _first(self, o: Any, path: str, json: bool) -> Any:
        for _, kind in self.alternatives:
            try:
                return kind.from_json(o, path) if json else kind.from_obj(o, path)
            except CodecError:
                continue
        raise CodecError(f"{_where(path)}: data did not match any variant of {self.name}")

    def from_obj(self, o: Any, path: str = "") -> Any:
        return self._first(o, path, json=False)

    def from_json(self, o: Any, path: str = "") -> Any:
        return self._first(o, path, json=True)


# --------------------------------------------------------------------------------------
# Structs


class _Field:
    """One wire field of a :class:`Struct`."""

    __slots__ = ("always", "attr", "default", "default_factory", "key", "kind", "omit_value",
                 "omittable")  # fmt: skip

    def __init__(
        self,
        attr: str,  # Python attribute name
        key: str,  # wire name
        kind: Kind[Any],
        *,
        default: Any,  # _MISSING when required
        default_factory: Callable[[], Any] | None,
        always: bool,
    ) -> None:
        self.attr = attr
        self.key = key
        self.kind = kind
        self.default = default
        self.default_factory = default_factory
        self.always = always
        # Derived once, as encoding runs for every message: whether the field may be left
        # out when equal to its default, and that default (a factory is called once, here).
        required = self.required
        self.omittable = not always and not required
        self.omit_value: Any = None if required else self.default_value()

    def default_value(self) -> Any:
        if self.default_factory is not None:
            return self.default_factory()
        return self.default

    @property
    def required(self) -> bool:
        return self.default is _MISSING and self.default_factory is None

    def __repr__(self) -> str:
        return f"_Field(attr={self.attr!r}, key={self.key!r}, kind={self.kind.name!r})"


class Struct:
    """Base of every protocol message; subclasses are :func:`struct` classes (or, as well,
    ``@dataclass(frozen=True, slots=True)`` ones).

    ``TAG`` is the ``type`` value when the class is a variant of a :class:`TaggedUnion`.
    ``ALLOW_EXTRA`` turns off the rejection of unknown keys.
    """

    __slots__ = ()
    TAG: ClassVar[str | None] = None
    ALLOW_EXTRA: ClassVar[bool] = False
    _fields_cache: ClassVar[tuple[_Field, ...] | None] = None

    @classmethod
    def schema(cls) -> tuple[_Field, ...]:
        """The wire fields, built from the record's fields on first use."""
        cached = cls.__dict__.get("_fields_cache")
        if cached is None:
            cached = _build_fields(cls)
            cls._fields_cache = cached
        return cached

    # msgpack-object form -------------------------------------------------------------
    def to_obj(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in self.schema():
            v = getattr(self, f.attr)
            if f.omittable and v == f.omit_value:
                continue
            out[f.key] = f.kind.to_obj(v)
        return out

    @classmethod
    def from_obj(cls: type[S], o: Any, path: str = "", skip: str | None = None) -> S:
        return cls._decode(o, path, skip, json=False)

    # JSON-object form ----------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in self.schema():
            v = getattr(self, f.attr)
            if f.omittable and v == f.omit_value:
                continue
            out[f.key] = f.kind.to_json(v)
        return out

    @classmethod
    def from_json(cls: type[S], o: Any, path: str = "", skip: str | None = None) -> S:
        return cls._decode(o, path, skip, json=True)

    # bytes ---------------------------------------------------------------------------
    def to_msgpack(self) -> bytes:
        return packb(self.to_obj())

    @classmethod
    def from_msgpack(cls: type[S], data: bytes | bytearray | memoryview) -> S:
        return cls.from_obj(unpackb(data), cls.__name__)

    @classmethod
    def _decode(cls: type[S], o: Any, path: str, skip: str | None, json: bool) -> S:
        path = path or cls.__name__
        if type(o) is not dict:
            raise CodecError(f"{path}: expected a map, got {_type_name(o)}")
        fields = cls.schema()
        kwargs: dict[str, Any] = {}
        seen = 0
        for f in fields:
            if f.key in o:
                seen += 1
                raw = o[f.key]
                sub = f"{path}.{f.key}"
                kwargs[f.attr] = f.kind.from_json(raw, sub) if json else f.kind.from_obj(raw, sub)
            elif f.required:
                raise CodecError(f"{path}: missing field {f.key!r}")
        extra = len(o) - seen - (1 if skip is not None and skip in o else 0)
        if extra and not cls.ALLOW_EXTRA:
            known = {f.key for f in fields}
            if skip is not None:
                known.add(skip)
            unknown = sorted(repr(k) for k in o if k not in known)
            raise CodecError(f"{path}: unknown field(s) {', '.join(unknown)}")
        try:
            return cls(**kwargs)
        except (TypeError, ValueError) as exc:  # a __post_init__ check failed
            raise CodecError(f"{path}: {exc}") from None


class StructKind(Kind[S]):
    """A :class:`Struct` nested inside another message."""

    def __init__(self, cls: type[S]) -> None:
        self.cls = cls
        self.name = cls.__name__

    def to_obj(self, v: S) -> Any:
        return v.to_obj()

    def from_obj(self, o: Any, path: str = "") -> S:
        return self.cls.from_obj(o, path)

    def to_json(self, v: S) -> Any:
        return v.to_json()

    def from_json(self, o: Any, path: str = "") -> S:
        return self.cls.from_json(o, path)


class TaggedUnion(Kind[T]):
    """An internally tagged enum: ``{"type": TAG, ...fields of the variant}``.

    ``T`` is the Union of the variant classes; each variant declares its ``TAG``.
    """

    def __init__(self, name: str, variants: Iterable[type[Struct]], tag: str = "type") -> None:
        self.name = name
        self.tag = tag
        self.variants: dict[str, type[Struct]] = {}
        self._tags: dict[type[Struct], str] = {}
        for cls in variants:
            t = cls.__dict__.get("TAG")
            if not isinstance(t, str):
                raise TypeError(f"{cls.__name__} has no TAG of its own")
            if t in self.variants:
                raise TypeError(f"duplicate tag {t!r} in {name}")
            self.variants[t] = cls
            self._tags[cls] = t

    def tag_of(self, v: T) -> str:
        try:
            return self._tags[type(v)]  # type: ignore[index]
        except KeyError:
            raise TypeError(f"{_type_name(v)} is not a variant of {self.name}") from None

    def to_obj(self, v: T) -> Any:
        out = {self.tag: self.tag_of(v)}
        out.update(v.to_obj())  # type: ignore[attr-defined]
        return out

    def to_json(self, v: T) -> Any:
        out = {self.tag: self.tag_of(v)}
        out.update(v.to_json())  # type: ignore[attr-defined]
        return out

    def _variant(self, o: Any, path: str) -> tuple[type[Struct], str]:
        path = path or self.name
        if type(o) is not dict:
            raise CodecError(f"{path}: expected a map with a {self.tag!r} key, got {_type_name(o)}")
        t = o.get(self.tag, _MISSING)
        if t is _MISSING:
            raise CodecError(f"{path}: missing {self.tag!r}")
        if type(t) is not str:
            raise CodecError(f"{path}: {self.tag!r} must be a string, got {_type_name(t)}")
        cls = self.variants.get(t)
        if cls is None:
            raise CodecError(f"{path}: unknown {self.name} type {t!r}")
        return cls, f"{path}.{t}"

    def from_obj(self, o: Any, path: str = "") -> T:
        cls, sub = self._variant(o, path)
        return cls.from_obj(o, sub, skip=self.tag)  # type: ignore[return-value]

    def from_json(self, o: Any, path: str = "") -> T:
        cls, sub = self._variant(o, path)
        return cls.from_json(o, sub, skip=self.tag)  # type: ignore[return-value]


# --------------------------------------------------------------------------------------
# Building a struct's fields from its type hints


def kind_of(hint: Any) -> Kind[Any]:
    """The Kind for a type hint, as used in Struct fields."""
    return _infer(hint)[0]


def _infer(hint: Any) -> tuple[Kind[Any], bool]:
    """Returns the kind and whether the field is marked ALWAYS."""
    always = False
    if get_origin(hint) is Annotated:
        base, *meta = get_args(hint)
        explicit: Kind[Any] | None = None
        for m in meta:
            if isinstance(m, Kind):
                explicit = m
            elif m is ALWAYS:
                always = True
        if explicit is not None:
            return explicit, always
        kind, inner_always = _infer(base)
        return kind, always or inner_always
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(hint) if a is not type(None)]
        if len(args) == 1 and len(get_args(hint)) == 2:
            return OptionalKind(_infer(args[0])[0]), False
        raise TypeError(f"cannot infer a kind for {hint!r}; annotate it explicitly")
    if origin is tuple:
        targs = get_args(hint)
        if len(targs) == 2 and targs[1] is Ellipsis:
            return ListKind(_infer(targs[0])[0]), False
    if origin is list:
        return ListKind(_infer(get_args(hint)[0])[0]), False
    if origin in (dict, Mapping):
        k, v = get_args(hint)
        if k is not str:
            raise TypeError(f"map keys must be str in {hint!r}")
        return MapKind(_infer(v)[0]), False
    if hint is str:
        return STR, False
    if hint is bool:
        return BOOL, False
    if isinstance(hint, type):
        if issubclass(hint, Struct):
            return StructKind(hint), False
        if issubclass(hint, enum.Enum):
            return EnumKind(hint), False
    raise TypeError(f"cannot infer a kind for {hint!r}; annotate it explicitly")


def _build_fields(cls: type[Struct]) -> tuple[_Field, ...]:
    hints = typing.get_type_hints(cls, include_extras=True)
    out: list[_Field] = []
    for name, default, factory, metadata in _record_fields(cls):
        kind, always = _infer(hints[name])
        key = metadata.get("key", name.rstrip("_"))
        out.append(_Field(name, key, kind, default=default, default_factory=factory, always=always))
    return tuple(out)


def _record_fields(
    cls: type,
) -> list[tuple[str, Any, Callable[[], Any] | None, Mapping[str, Any]]]:
    """Name, default (``_MISSING`` if none), factory and metadata of each field of a
    :func:`struct` class or a dataclass."""
    own = cls.__dict__.get("__dataclass_fields__")
    specs: tuple[Field, ...] | None = getattr(cls, "__struct_fields__", None)
    if specs is not None and not isinstance(own, dict):  # not a dataclass of its own
        return [
            (f.name, f.default, None if f.default_factory is _MISSING else f.default_factory,
             f.metadata)
            for f in specs
        ]  # fmt: skip
    import dataclasses  # a Struct declared as a real dataclass

    return [
        (
            f.name,
            _MISSING if f.default is dataclasses.MISSING else f.default,
            None if f.default_factory is dataclasses.MISSING else f.default_factory,
            f.metadata,
        )
        for f in dataclasses.fields(typing.cast(Any, cls))
    ]
