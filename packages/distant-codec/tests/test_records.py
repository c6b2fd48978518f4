"""``@struct`` records behave like ``@dataclass(frozen=True, slots=True)`` classes."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from typing import Any, ClassVar

import pytest

import distant_codec as dc
from distant_codec import requests as rq
from distant_codec.schema import U64, FrozenInstanceError, Struct, field, struct
from distant_codec.version import ProtocolVersion


@struct
class Point:
    x: int
    y: int = 0
    tags: list[str] = field(default_factory=list)
    ORIGIN: ClassVar[str] = "origin"


@dataclasses.dataclass(frozen=True, slots=True)
class DataPoint:
    x: int
    y: int = 0
    tags: list[str] = dataclasses.field(default_factory=list)


@struct
class Pair:
    left: int
    right: int


@struct(kw_only=True)
class Options:
    first: str | None = None
    second: int


@struct
class Checked:
    value: int
    doubled: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        if self.value < 0:
            raise ValueError("value must be >= 0")
        object.__setattr__(self, "doubled", 2 * self.value)


@struct
class Base:
    a: int
    b: int = 1


@struct
class Derived(Base):
    c: int = 2


@struct
class Ping(Struct):
    TAG: ClassVar[str] = "ping"
    seq: U64
    note: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class DataPing(Struct):
    """A Struct may still be a real dataclass (other packages declare some that way)."""

    TAG: ClassVar[str] = "data_ping"
    seq: U64
    note: str = ""


def test_construction_defaults_and_factories() -> None:
    assert Point(1) == Point(1, 0, []) == Point(x=1, y=0, tags=[])
    assert Point(1).tags is not Point(1).tags  # a fresh value per instance
    assert Options(second=2) == Options(first=None, second=2)
    with pytest.raises(TypeError):
        Options(None, 2)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Point()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Point(1, unknown=2)  # type: ignore[call-arg]
    assert Point.ORIGIN == "origin"
    assert Point.__match_args__ == ("x", "y", "tags")
    assert Options.__match_args__ == ()


def test_instances_are_frozen_and_slotted() -> None:
    p = Point(1)
    with pytest.raises(FrozenInstanceError):
        p.x = 2  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del p.x
    with pytest.raises(AttributeError):
        p.z = 3  # type: ignore[attr-defined]
    assert not hasattr(p, "__dict__")
    assert Point.__slots__ == ("x", "y", "tags")  # type: ignore[attr-defined]


def test_same_semantics_as_a_frozen_dataclass() -> None:
    ours, theirs = Pair(1, 2), DataPoint(1, 2)
    assert repr(Point(1, 2, ["a"])) == repr(DataPoint(1, 2, ["a"])).replace("DataPoint", "Point")
    assert ours == Pair(1, 2) and ours != Pair(2, 1)
    assert ours != (1, 2) and Pair(1, 2) != theirs  # type: ignore[comparison-overlap]
    assert hash(ours) == hash(Pair(1, 2)) == hash((1, 2))
    with pytest.raises(TypeError):
        hash(Point(1))  # a list field is unhashable, as with dataclasses
    assert Pair.__eq__(ours, (1, 2)) is NotImplemented


def test_order() -> None:
    versions = [ProtocolVersion(0, 21, 0), ProtocolVersion(0, 3, 9), ProtocolVersion(1, 0, 0)]
    assert sorted(versions) == [versions[1], versions[0], versions[2]]
    assert ProtocolVersion(0, 1, 0) <= ProtocolVersion(0, 1, 0) < ProtocolVersion(0, 1, 1)
    with pytest.raises(TypeError):
        assert ProtocolVersion(0, 1, 0) < (0, 2, 0)  # type: ignore[operator]


def test_post_init_and_init_false() -> None:
    assert Checked(3).doubled == 6
    assert repr(Checked(3)) == "Checked(value=3, doubled=6)"
    with pytest.raises(ValueError, match=">= 0"):
        Checked(-1)
    with pytest.raises(ValueError, match="exactly one"):
        dc.Msg((1, 2), False)


def test_inheritance() -> None:
    d = Derived(0, c=5)
    assert (d.a, d.b, d.c) == (0, 1, 5)
    assert d != Base(0, 1)
    assert repr(d) == "Derived(a=0, b=1, c=5)"
    assert Derived.__slots__ == ("c",)  # type: ignore[attr-defined]


def test_own_methods_are_kept() -> None:
    assert repr(dc.AuthChallengeResponse(("secret",))) == (
        "AuthChallengeResponse(answers=<1 redacted>)"
    )


def test_match() -> None:
    match rq.DirRead("/tmp", 2):
        case rq.DirRead(path, depth):
            assert (path, depth) == ("/tmp", 2)
        case _:
            pytest.fail("no match")


@pytest.mark.parametrize(
    "value",
    [
        Pair(1, 2),
        rq.DirRead("/tmp", 3, absolute=True),
        dc.Metadata(file_type=dc.FileType.DIR, len=4, readonly=True),
        dc.Msg.batch([rq.Exists("/a"), rq.Exists("/b")]),
        dc.UntypedRequest("1", b"\x80", {"sequence": 2}),
        Checked(4),
        Derived(1),
    ],
)
def test_copy_and_pickle(value: Any) -> None:
    for twin in (copy.copy(value), copy.deepcopy(value), pickle.loads(pickle.dumps(value))):
        assert twin == value and type(twin) is type(value)
        assert repr(twin) == repr(value)


def test_dataclasses_functions_accept_records() -> None:
    p = Point(1, 2, ["t"])
    assert dataclasses.is_dataclass(p) and dataclasses.is_dataclass(type(p))
    assert [f.name for f in dataclasses.fields(p)] == ["x", "y", "tags"]
    assert dataclasses.replace(p, y=5) == Point(1, 5, ["t"])
    assert dataclasses.asdict(p) == {"x": 1, "y": 2, "tags": ["t"]}
    assert dataclasses.astuple(Derived(1)) == (1, 1, 2)
    with pytest.raises(ValueError, match="init=False"):
        dataclasses.replace(Checked(1), doubled=3)


def test_declaration_errors() -> None:
    with pytest.raises(TypeError, match="non-default argument 'b'"):

        @struct
        class _Bad:
            a: int = 0
            b: int  # type: ignore[misc]

    with pytest.raises(ValueError, match="mutable default"):

        @struct
        class _Mutable:
            a: list[int] = []  # noqa: RUF012

    with pytest.raises(ValueError, match="both default and default_factory"):
        field(default=1, default_factory=int)  # type: ignore[call-overload]


@pytest.mark.parametrize("cls", [Ping, DataPing])
def test_structs_as_records_or_dataclasses(cls: type[Any]) -> None:
    kind: dc.TaggedUnion[Any] = dc.TaggedUnion("Pings", [cls])
    value = cls(7)
    obj = kind.to_obj(value)
    assert obj == {"type": cls.TAG, "seq": 7}
    assert kind.from_obj(obj) == value
    assert kind.from_obj({"type": cls.TAG, "seq": 1, "note": "n"}) == cls(1, "n")
    with pytest.raises(dc.CodecError, match="unknown field"):
        kind.from_obj({"type": cls.TAG, "seq": 1, "extra": 0})


def test_a_plain_subclass_may_extend_the_generated_init() -> None:
    @struct
    class Inner:
        x: int

    class Outer(Inner):
        def __init__(self, x: int) -> None:
            super().__init__(x * 2)

    assert Outer(2).x == 4 and Inner(1).x == 1
    assert repr(Outer(1)).endswith(".Outer(x=2)")  # a local class: qualified name


def test_first_use_from_many_threads() -> None:
    import threading

    @struct
    class Fresh:
        a: int
        b: tuple[int, ...] = ()

    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def use() -> None:
        barrier.wait()
        try:
            assert Fresh(1) == Fresh(1, ()) and hash(Fresh(2)) == hash((2, ()))
            assert repr(Fresh(3)).endswith(".Fresh(a=3, b=())")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=use) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
