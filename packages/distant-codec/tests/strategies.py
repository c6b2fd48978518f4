"""Hypothesis strategies built from the codec's own schema, so that every message type is
covered without listing its fields by hand."""

from __future__ import annotations

import dataclasses
import importlib
import string
import sys
from typing import Any

from hypothesis import strategies as st

import distant_codec as dc
from distant_codec import manager_responses as ms
from distant_codec import schema
from distant_codec.envelope import UntypedRequest, UntypedResponse
from distant_codec.msg import MsgKind
from distant_codec.options_map import OPTIONS_MAP

_json_scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.text(max_size=8)
header_values = st.recursive(
    _json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
headers = st.dictionaries(st.text(max_size=8), header_values, max_size=3)
option_keys = st.from_regex(r"[A-Za-z][A-Za-z0-9_.\-]{0,8}", fullmatch=True)


def for_kind(kind: dc.Kind[Any]) -> st.SearchStrategy[Any]:
    """A strategy producing valid Python values of a kind."""
    if kind is schema.STR:
        return st.text(max_size=20)
    if kind is schema.BOOL:
        return st.booleans()
    if isinstance(kind, schema._IntKind):
        return st.integers(kind.lo, kind.hi)
    if kind is schema.BIN or kind is schema.BYTE_ARRAY:
        return st.binary(max_size=40)
    if kind is schema.ANY:
        return header_values
    if kind is OPTIONS_MAP:
        return st.dictionaries(option_keys, st.text(max_size=12), max_size=3)
    if kind is dc.UNTYPED_REQUEST:
        return st.builds(
            UntypedRequest, st.text(max_size=10), st.binary(min_size=1, max_size=20), headers
        )
    if kind is dc.UNTYPED_RESPONSE:
        return st.builds(UntypedResponse, st.text(max_size=10), st.text(max_size=10),
                         st.binary(min_size=1, max_size=20), headers)  # fmt: skip
    if isinstance(kind, schema.EnumKind):
        return st.sampled_from(list(kind.cls))
    if isinstance(kind, schema.OptionalKind):
        return st.none() | for_kind(kind.inner)
    if isinstance(kind, schema.ListKind):
        return st.lists(for_kind(kind.inner), max_size=3).map(tuple)
    if isinstance(kind, schema.MapKind):
        return st.dictionaries(st.text(max_size=8), for_kind(kind.inner), max_size=3)
    if isinstance(kind, schema.StructKind):
        return for_struct(kind.cls)
    if isinstance(kind, schema.TaggedUnion):
        return st.one_of([for_struct(cls) for cls in kind.variants.values()])
    if isinstance(kind, schema.Untagged):
        return st.one_of([for_kind(k) for _, k in kind.alternatives])
    if isinstance(kind, MsgKind):
        inner = for_kind(kind.inner)
        return inner.map(dc.Msg.single) | st.lists(inner, max_size=3).map(dc.Msg.batch)
    raise AssertionError(f"no strategy for {kind!r}")


def _or(xs: list[Any]) -> dc.Or:
    return dc.Or(tuple(xs))


def for_struct(cls: type[dc.Struct]) -> st.SearchStrategy[Any]:
    if cls is ms.List:
        return st.builds(
            ms.List, st.dictionaries(st.integers(0, 2**32 - 1), st.text(max_size=20), max_size=3)
        )
    if cls is dc.Or:  # recursive: bound the depth
        leaf = st.one_of([for_struct(v) for t, v in dc.CONDITION.variants.items() if t != "or"])
        conditions = st.recursive(
            leaf, lambda inner: st.lists(inner, max_size=3).map(_or), max_leaves=5
        )
        return st.lists(conditions, max_size=3).map(_or)
    fields = {f.attr: for_kind(f.kind) for f in cls.schema()}
    return st.builds(cls, **fields)


def all_struct_classes() -> list[type[dc.Struct]]:
    """Every Struct subclass defined in distant_codec."""
    for module in dc._SUBMODULES:  # the package imports its submodules lazily: load them all
        importlib.import_module(f"distant_codec.{module}")
    seen: list[type[dc.Struct]] = []
    stack = list(dc.Struct.__subclasses__())
    while stack:
        cls = stack.pop()
        # @struct (like dataclass(slots=True)) replaces the class it decorates; keep the
        # module's one only.
        module = sys.modules.get(cls.__module__)
        if (
            cls not in seen
            and cls.__module__.startswith("distant_codec")
            and getattr(module, cls.__name__, None) is cls
        ):
            seen.append(cls)
        stack.extend(cls.__subclasses__())
    return sorted(seen, key=lambda c: (c.__module__, c.__name__))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**64), 2**65) | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
"""Arbitrary JSON documents, for feeding decoders garbage of the right outer shape."""


def keys_of(cls: type[dc.Struct]) -> list[str]:
    return [f.key for f in cls.schema()] if dataclasses.is_dataclass(cls) else []


printable = st.text(alphabet=string.printable, max_size=60)
