"""Frozen records: a cheap stand-in for ``@dataclass(frozen=True, slots=True)``.

:func:`struct` gives a class the typing (it is a ``dataclass_transform``) and the instance
semantics of a frozen, slotted dataclass. What it does not do is generate and ``exec`` six
methods per class at import time, which is what made importing the ~130 protocol messages
cost tens of milliseconds. Here immutability, ordering and pickling are written once and
shared, and each class's ``__init__``, ``__repr__``, ``__eq__`` and ``__hash__`` are
compiled (the dataclasses way, so just as fast) when that class first uses them.

Neither ``dataclasses`` nor ``inspect`` is imported, except when ``dataclasses.fields``
and friends are used on a record. Re-exported by :mod:`distant_codec.schema`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from operator import attrgetter
from types import MappingProxyType
from typing import Any, ClassVar, TypeVar, dataclass_transform, get_origin, overload

__all__ = ["MISSING", "Field", "FrozenInstanceError", "field", "fields", "renamed", "struct"]

T = TypeVar("T")


class _MissingType:
    """Marks a field without a default (the role of ``dataclasses.MISSING``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


class _FactoryType:
    """The default of an ``__init__`` parameter whose field has a default factory."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<factory>"


_MISSING: Any = _MissingType()
_FACTORY: Any = _FactoryType()
_NO_METADATA: Mapping[str, Any] = MappingProxyType({})


class FrozenInstanceError(AttributeError):
    """Assigning to (or deleting) a field of a frozen record; like dataclasses' error of the
    same name, an :class:`AttributeError`."""


class Field:
    """One field of a :func:`struct` class, as :func:`field` declares it.

    ``default`` and ``default_factory`` are :data:`MISSING` when unset;
    ``kw_only`` is ``None`` until the decorator applies the class's setting.
    """

    __slots__ = ("default", "default_factory", "init", "kw_only", "metadata", "name", "repr")

    def __init__(
        self,
        name: str,
        default: Any = _MISSING,
        default_factory: Any = _MISSING,
        *,
        init: bool = True,
        repr: bool = True,
        kw_only: bool | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.default = default
        self.default_factory = default_factory
        self.init = init
        self.repr = repr
        self.kw_only = kw_only
        self.metadata: Mapping[str, Any] = _NO_METADATA if metadata is None else metadata

    @property
    def required(self) -> bool:
        return self.default is _MISSING and self.default_factory is _MISSING

    def __repr__(self) -> str:
        return f"Field(name={self.name!r}, default={self.default!r})"


@overload
def field(
    *,
    default: T,
    init: bool = ...,
    repr: bool = ...,
    kw_only: bool = ...,
    metadata: Mapping[str, Any] | None = ...,
) -> T: ...
@overload
def field(
    *,
    default_factory: Callable[[], T],
    init: bool = ...,
    repr: bool = ...,
    kw_only: bool = ...,
    metadata: Mapping[str, Any] | None = ...,
) -> T: ...
@overload
def field(
    *,
    init: bool = ...,
    repr: bool = ...,
    kw_only: bool = ...,
    metadata: Mapping[str, Any] | None = ...,
) -> Any: ...
def field(
    *,
    default: Any = _MISSING,
    default_factory: Any = _MISSING,
    init: bool = True,
    repr: bool = True,
    kw_only: Any = None,
    metadata: Mapping[str, Any] | None = None,
) -> Any:
    """``dataclasses.field`` for :func:`struct` classes (the same parameters, minus
    ``hash`` and ``compare``: every field is compared and hashed)."""
    if default is not _MISSING and default_factory is not _MISSING:
        raise ValueError("cannot specify both default and default_factory")
    return Field("", default, default_factory, init=init, repr=repr, kw_only=kw_only,
                 metadata=metadata)  # fmt: skip


def renamed(key: str, **kwargs: Any) -> Any:
    """A field whose wire name differs from its attribute name."""
    return field(metadata={"key": key}, **kwargs)


@overload
def struct(cls: type[T], /) -> type[T]: ...
@overload
def struct(*, kw_only: bool = False, order: bool = False) -> Callable[[type[T]], type[T]]: ...
@dataclass_transform(frozen_default=True, field_specifiers=(field, renamed))
def struct(
    cls: type[T] | None = None, /, *, kw_only: bool = False, order: bool = False
) -> type[T] | Callable[[type[T]], type[T]]:
    """Make ``cls`` a frozen, slotted record: what ``@dataclass(frozen=True, slots=True)``
    (with ``kw_only`` and ``order`` as there) gives, without its cost at import time.

    Fields come from the class's own annotations (``ClassVar`` ones excepted) after those
    of its record bases, with defaults and :func:`field` specifiers as in dataclasses. The
    instances are immutable (:class:`FrozenInstanceError`), compare equal when of the same
    class with equal fields, hash by their fields, repr as dataclasses do, pickle and copy,
    and support ``__match_args__`` and ``__post_init__``. ``dataclasses.fields``,
    ``replace``, ``asdict`` and ``is_dataclass`` work on them as well (``dataclasses`` is
    imported only when one of these is used).

    The decorator only computes the slots and binds shared methods. ``__init__``,
    ``__repr__``, ``__eq__`` and ``__hash__`` are generated and compiled as dataclasses
    would write them, but for each class only when first called (a stand-in does it, then
    steps aside). A method the class defines itself is kept, as with dataclasses.
    """

    def wrap(c: type[T]) -> type[T]:
        return _make_struct(c, kw_only, order)

    return wrap if cls is None else wrap(cls)


def _is_classvar(annotation: Any) -> bool:
    if isinstance(annotation, str):  # from __future__ import annotations
        text = annotation.lstrip()
        for prefix in ("ClassVar", "typing.ClassVar"):
            if text.startswith(prefix) and text[len(prefix) : len(prefix) + 1] in ("", "["):
                return True
        return False
    return annotation is ClassVar or get_origin(annotation) is ClassVar


def _field_from_spec(name: str, value: Any, kw_only: bool) -> Field | None:
    """The field ``name`` declared by ``value`` if that is a :func:`field` (or a
    ``dataclasses.field``), else None."""
    if type(value) is Field:
        kw = value.kw_only
        return Field(name, value.default, value.default_factory, init=value.init,
                     repr=value.repr, kw_only=kw_only if kw is None else kw,
                     metadata=value.metadata)  # fmt: skip
    dc = sys.modules.get("dataclasses")
    if dc is not None and isinstance(value, dc.Field):
        kw = value.kw_only
        return Field(
            name,
            _MISSING if value.default is dc.MISSING else value.default,
            _MISSING if value.default_factory is dc.MISSING else value.default_factory,
            init=value.init, repr=value.repr, kw_only=kw_only if kw is dc.MISSING else kw,
            metadata=value.metadata,
        )  # fmt: skip
    return None


def _make_struct(cls: type[T], kw_only: bool, order: bool) -> type[T]:
    # This runs for every message class at import time: keep it lean.
    ns = cls.__dict__
    if "__slots__" in ns:
        raise TypeError(f"{cls.__name__} already specifies __slots__")
    fields: dict[str, Field] = {}
    for base in cls.__mro__[-2:0:-1]:
        for f in base.__dict__.get("__struct_fields__", ()):
            fields[f.name] = f
    inherited = tuple(fields)
    d = dict(ns)
    slots: list[str] = []
    seen_default = False
    for name, annotation in ns.get("__annotations__", _NO_METADATA).items():
        if type(annotation) is str:
            if "ClassVar" in annotation and _is_classvar(annotation):
                continue
        elif _is_classvar(annotation):
            continue
        value = d.pop(name, _MISSING)
        if value is _MISSING:
            f = Field(name, kw_only=kw_only)
        else:
            spec = _field_from_spec(name, value, kw_only)
            if spec is None:
                if type(value) in (list, dict, set):
                    raise ValueError(f"mutable default {type(value)} for field {name} is not "
                                     "allowed: use default_factory")  # fmt: skip
                f = Field(name, value, kw_only=kw_only)
            else:
                f = spec
        if f.init and not f.kw_only:
            if f.default is not _MISSING or f.default_factory is not _MISSING:
                seen_default = True
            elif seen_default:
                raise TypeError(f"non-default argument {name!r} follows default argument")
        fields[name] = f
        if name not in inherited:
            slots.append(name)
    if inherited:  # inherited fields come first: check the whole order again
        seen_default = False
        for f in fields.values():
            if f.init and not f.kw_only:
                if not f.required:
                    seen_default = True
                elif seen_default:
                    raise TypeError(f"non-default argument {f.name!r} follows default argument")

    d.pop("__dict__", None)
    d.pop("__weakref__", None)
    d["__slots__"] = tuple(slots)
    all_fields = tuple(fields.values())
    d["__struct_fields__"] = all_fields
    d["__dataclass_fields__"] = _DATACLASS_FIELDS
    if "__match_args__" not in ns:
        d["__match_args__"] = tuple([f.name for f in all_fields if f.init and not f.kw_only])
    if "__setattr__" in ns or "__delattr__" in ns:
        raise TypeError(f"cannot overwrite __setattr__ or __delattr__ in class {cls.__name__}")
    d["__setattr__"] = _frozen_setattr
    d["__delattr__"] = _frozen_delattr
    if "__reduce__" not in ns:
        d["__reduce__"] = _struct_reduce
    # The methods on hot paths are compiled for this class when first called: until then a
    # stand-in holds the place, compiles the real method, installs it (replacing itself)
    # and calls it. The stand-ins know their class through the cell ``owner``.
    owner: Any = None
    if "__init__" not in ns:

        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            _compile_init(owner)(self, *args, **kwargs)

        d["__init__"] = __init__
    if "__repr__" not in ns:

        def __repr__(self: Any) -> Any:
            return _compile_repr(owner)(self)

        d["__repr__"] = __repr__
    if "__eq__" not in ns:

        def __eq__(self: Any, other: object) -> Any:
            return _compile_eq(owner)(self, other)

        d["__eq__"] = __eq__
    if "__hash__" not in ns or (ns["__hash__"] is None and "__eq__" in ns):

        def __hash__(self: Any) -> Any:
            return _compile_hash(owner)(self)

        d["__hash__"] = __hash__
    if order:
        d["__struct_key__"] = attrgetter(*fields) if fields else staticmethod(_no_fields)
        for name, method in _ORDER:
            if name in ns:
                raise TypeError(f"cannot overwrite attribute {name} in class {cls.__name__}")
            d[name] = method
    metaclass: Any = type(cls)
    owner = metaclass(cls.__name__, cls.__bases__, d)
    owner.__qualname__ = cls.__qualname__
    new: type[T] = owner
    return new


def _no_fields(obj: object) -> tuple[()]:
    return ()


def _install(owner: type, name: str, source: str, env: dict[str, Any]) -> Callable[..., Any]:
    exec(source, env)  # the same technique as dataclasses, deferred to first use
    function: Callable[..., Any] = env[name]
    function.__qualname__ = f"{owner.__qualname__}.{name}"
    function.__module__ = owner.__module__
    setattr(owner, name, function)
    return function


def _compile_repr(owner: type) -> Callable[..., Any]:
    fields = owner.__struct_fields__  # type: ignore[attr-defined]
    inner = ", ".join(f"{f.name}={{self.{f.name}!r}}" for f in fields if f.repr)
    source = f'def __repr__(self):\n    return f"{{self.__class__.__qualname__}}({inner})"\n'
    return _install(owner, "__repr__", source, {})


def _compile_eq(owner: type) -> Callable[..., Any]:
    names = [f.name for f in owner.__struct_fields__]  # type: ignore[attr-defined]
    mine = "".join(f"self.{n}," for n in names)
    theirs = "".join(f"other.{n}," for n in names)
    source = (
        "def __eq__(self, other):\n"
        "    if other.__class__ is self.__class__:\n"
        f"        return ({mine}) == ({theirs})\n"
        "    return NotImplemented\n"
    )
    return _install(owner, "__eq__", source, {})


def _compile_hash(owner: type) -> Callable[..., Any]:
    names = "".join(f"self.{f.name}," for f in owner.__struct_fields__)  # type: ignore[attr-defined]
    return _install(owner, "__hash__", f"def __hash__(self):\n    return hash(({names}))\n", {})


def _compile_init(owner: type) -> Callable[..., Any]:
    """Generate and install ``owner.__init__``, as dataclasses would write it."""
    env: dict[str, Any] = {"_FACTORY": _FACTORY, "_setattr": object.__setattr__}
    positional: list[str] = []
    keyword: list[str] = []
    body: list[str] = []
    fields: tuple[Field, ...] = owner.__struct_fields__  # type: ignore[attr-defined]
    for i, f in enumerate(fields):
        name = f.name
        slot: Any = getattr(owner, name, None)
        if type(slot) is _MEMBER_DESCRIPTOR:
            env[f"_set{i}"] = slot.__set__  # a slot's setter: faster than object.__setattr__
            store = f"_set{i}(self, {{}})"
        else:
            store = f"_setattr(self, {name!r}, {{}})"
        if f.default_factory is not _MISSING:
            env[f"_factory{i}"] = f.default_factory
        elif f.default is not _MISSING:
            env[f"_default{i}"] = f.default
        if not f.init:
            if f.default_factory is not _MISSING:
                body.append(store.format(f"_factory{i}()"))
            elif f.default is not _MISSING:
                body.append(store.format(f"_default{i}"))
            continue
        if f.default_factory is not _MISSING:
            param = f"{name}=_FACTORY"
            body.append(store.format(f"_factory{i}() if {name} is _FACTORY else {name}"))
        else:
            param = name if f.default is _MISSING else f"{name}=_default{i}"
            body.append(store.format(name))
        (keyword if f.kw_only else positional).append(param)
    if hasattr(owner, "__post_init__"):
        body.append("self.__post_init__()")
    params = ["self", *positional, *(["*", *keyword] if keyword else [])]
    source = f"def __init__({', '.join(params)}):\n    " + "\n    ".join(body or ["pass"])
    return _install(owner, "__init__", source, env)


class _Slotted:
    __slots__ = ("x",)


_MEMBER_DESCRIPTOR = type(_Slotted.__dict__["x"])


def _struct_lt(self: Any, other: Any) -> Any:
    if other.__class__ is self.__class__:
        key = self.__struct_key__
        return key(self) < key(other)
    return NotImplemented


def _struct_le(self: Any, other: Any) -> Any:
    if other.__class__ is self.__class__:
        key = self.__struct_key__
        return key(self) <= key(other)
    return NotImplemented


def _struct_gt(self: Any, other: Any) -> Any:
    if other.__class__ is self.__class__:
        key = self.__struct_key__
        return key(self) > key(other)
    return NotImplemented


def _struct_ge(self: Any, other: Any) -> Any:
    if other.__class__ is self.__class__:
        key = self.__struct_key__
        return key(self) >= key(other)
    return NotImplemented


_ORDER = (("__lt__", _struct_lt), ("__le__", _struct_le), ("__gt__", _struct_gt),
          ("__ge__", _struct_ge))  # fmt: skip


def _frozen_setattr(self: Any, name: str, value: Any) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _frozen_delattr(self: Any, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field {name!r}")


def _struct_reduce(self: Any) -> tuple[Any, ...]:
    cls = type(self)
    return _struct_restore, (cls, tuple(getattr(self, f.name) for f in cls.__struct_fields__))


def _struct_restore(cls: type[T], values: tuple[Any, ...]) -> T:
    """Unpickle (or copy) a record: set its fields back without running ``__init__``."""
    obj = object.__new__(cls)
    for f, v in zip(cls.__struct_fields__, values, strict=True):  # type: ignore[attr-defined]
        object.__setattr__(obj, f.name, v)
    return obj


class _DataclassFields:
    """``__dataclass_fields__`` of every record, built on first access, so that
    ``dataclasses.fields``, ``replace``, ``asdict`` and ``is_dataclass`` accept records
    while ``dataclasses`` stays unimported until then."""

    __slots__ = ()

    def __get__(self, obj: object, owner: type) -> dict[str, Any]:
        import dataclasses

        out: dict[str, Any] = {}
        for f in owner.__struct_fields__:  # type: ignore[attr-defined]
            kwargs: dict[str, Any] = {"init": f.init, "repr": f.repr, "kw_only": f.kw_only,
                                      "metadata": f.metadata}  # fmt: skip
            if f.default is not _MISSING:
                kwargs["default"] = f.default
            if f.default_factory is not _MISSING:
                kwargs["default_factory"] = f.default_factory
            dc_field = dataclasses.field(**kwargs)
            dc_field.name = f.name
            dc_field.type = _annotation_of(owner, f.name)
            dc_field._field_type = dataclasses._FIELD  # type: ignore[attr-defined]
            out[f.name] = dc_field
        return out


_DATACLASS_FIELDS = _DataclassFields()


def _annotation_of(cls: type, name: str) -> Any:
    import inspect  # already imported by dataclasses, the only caller's reason to be

    for klass in cls.__mro__:
        annotations = inspect.get_annotations(klass)
        if name in annotations:
            return annotations[name]
    return Any


MISSING: Any = _MISSING
"""The ``default`` and ``default_factory`` of a :class:`Field` that has none."""


def fields(cls: type) -> tuple[Field, ...]:
    """The fields of a :func:`struct` class, in ``__init__`` order."""
    try:
        specs: tuple[Field, ...] = cls.__struct_fields__  # type: ignore[attr-defined]
    except AttributeError:
        raise TypeError(f"{cls.__name__} is not a struct class") from None
    return specs
