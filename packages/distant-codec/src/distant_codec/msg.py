"""``Msg<T>`` (§7.1): a single payload (a map) or a batch (an array of them)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Generic, TypeVar

from .errors import CodecError
from .schema import Kind, struct

__all__ = ["Msg", "MsgKind"]

T = TypeVar("T")


@struct
class Msg(Generic[T]):
    """One payload, or a batch of them; ``items`` holds one element for a single."""

    items: tuple[T, ...]
    is_batch: bool = False

    def __post_init__(self) -> None:
        if not self.is_batch and len(self.items) != 1:
            raise ValueError("a single Msg holds exactly one item")

    @classmethod
    def single(cls, item: T) -> Msg[T]:
        return cls((item,), False)

    @classmethod
    def batch(cls, items: Iterable[T]) -> Msg[T]:
        return cls(tuple(items), True)

    @property
    def value(self) -> T:
        """The payload of a single Msg."""
        if self.is_batch:
            raise ValueError("this Msg is a batch")
        return self.items[0]


class MsgKind(Kind[Msg[T]]):
    """serde's untagged ``Msg``: tries the single form first, then the batch form."""

    def __init__(self, inner: Kind[T]) -> None:
        self.inner = inner
        self.name = f"Msg<{inner.name}>"

    def to_obj(self, v: Msg[T]) -> Any:
        f = self.inner.to_obj
        return [f(x) for x in v.items] if v.is_batch else f(v.items[0])

    def to_json(self, v: Msg[T]) -> Any:
        f = self.inner.to_json
        return [f(x) for x in v.items] if v.is_batch else f(v.items[0])

    def _decode(self, o: Any, path: str, json: bool) -> Msg[T]:
        f = self.inner.from_json if json else self.inner.from_obj
        if type(o) is not list:
            return Msg((f(o, path),), False)
        try:
            return Msg((f(o, path),), False)
        except CodecError:
            pass
        return Msg(tuple(f(x, f"{path}[{i}]") for i, x in enumerate(o)), True)

    def from_obj(self, o: Any, path: str = "") -> Msg[T]:
        return self._decode(o, path, json=False)

    def from_json(self, o: Any, path: str = "") -> Msg[T]:
        return self._decode(o, path, json=True)
