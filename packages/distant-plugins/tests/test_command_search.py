"""CommandSearcher with real local tools: GNU grep/find and busybox grep/find, run through a
RunCommand on subprocesses (as the ssh and docker Apis run them remotely)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest

from distant_codec import Error, ErrorKind
from distant_codec import common as c
from distant_codec import requests as rq
from distant_codec import responses as rs
from distant_plugins.command_search import (
    CommandSearcher,
    RunCommand,
    condition_pattern,
    parse_rg_json,
    probe_tools,
)
from distant_server import ApiContext, ConnectionState, call

pytestmark = pytest.mark.anyio

BUSYBOX = "/usr/bin/busybox"


@pytest.fixture
def anyio_backend() -> str:
    return "trio"


def local_run(prefix: list[str] | None = None, only: set[str] | None = None) -> RunCommand:
    """Run argv locally; with ``prefix``, tools run as ``busybox TOOL``; ``only`` limits
    the tools that exist."""

    async def run(argv: list[str]) -> tuple[int | None, bytes, bytes]:
        if only is not None and argv[0] not in only:
            return 127, b"", b"not found"
        full = [*(prefix or []), *argv] if argv[0] in ("grep", "find") else argv
        done = await anyio.run_process(full, check=False)
        return done.returncode, done.stdout, done.stderr

    return run


@pytest.fixture
def tree(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "one.txt").write_text("alpha\nbeta gamma\nbeta\n")
    (tmp_path / "a" / "deep").mkdir()
    (tmp_path / "a" / "deep" / "two.md").write_text("no match\nbeta here\n")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "h.txt").write_text("beta hidden\n")
    (tmp_path / "top.txt").write_text("x.y beta\n")
    yield tmp_path


async def search(
    searcher: CommandSearcher, query: c.SearchQuery
) -> tuple[list[c.SearchQueryMatch], list[object]]:
    """Run one search through the dispatcher's ``call``; its matches and every message."""
    sent: list[object] = []

    async def send(payload: object) -> None:
        sent.append(payload)

    ctx = ApiContext(ConnectionState(1), send)  # type: ignore[arg-type]
    reply = await call(searcher, ctx, rq.Search(query))  # type: ignore[arg-type]
    if isinstance(reply, Error):
        raise AssertionError(reply)
    assert isinstance(reply, rs.SearchStarted)
    for work in ctx.take_followups():
        await work()
    assert isinstance(sent[-1], rs.SearchDone) and sent[-1].id == reply.id
    found = [m for item in sent if isinstance(item, rs.SearchResults) for m in item.matches]
    return found, sent


FLAVOURS = {
    "gnu": (None, {"grep", "find"}),
    "busybox": ([BUSYBOX], {"grep", "find"}),
}


@pytest.fixture(params=sorted(FLAVOURS))
def searcher(request: pytest.FixtureRequest) -> CommandSearcher:
    prefix, tools = FLAVOURS[request.param]
    return CommandSearcher(local_run(prefix), frozenset(tools))


async def test_probe_tools_finds_what_exists() -> None:
    assert await probe_tools(local_run()) >= {"grep", "find"}
    # without a shell, each tool is tried directly
    assert await probe_tools(local_run(only={"grep"})) == frozenset({"grep"})


async def test_contents_search(searcher: CommandSearcher, tree: Path) -> None:
    found, _ = await search(
        searcher,
        c.SearchQuery(c.SearchQueryTarget.CONTENTS, c.Contains("beta"), (str(tree / "a"),)),
    )
    assert all(isinstance(m, c.ContentsMatch) for m in found)
    got = [(Path(m.path).name, m.line_number, m.lines) for m in found]  # type: ignore[union-attr]
    assert got == [
        ("two.md", 2, "beta here\n"),
        ("one.txt", 2, "beta gamma\n"),
        ("one.txt", 3, "beta\n"),
    ] or sorted(got) == sorted(
        [("two.md", 2, "beta here\n"), ("one.txt", 2, "beta gamma\n"), ("one.txt", 3, "beta\n")]
    )
    first = next(m for m in found if isinstance(m, c.ContentsMatch) and m.line_number == 2)
    assert first.submatches[0].match == "beta" and first.submatches[0].start == 0


async def test_contents_options(searcher: CommandSearcher, tree: Path) -> None:
    opts = c.SearchQueryOptions(max_depth=1, ignore_hidden=True)
    found, _ = await search(
        searcher, c.SearchQuery(c.SearchQueryTarget.CONTENTS, c.Regex("bet+a"), (str(tree),), opts)
    )
    assert {Path(m.path).name for m in found} == {"top.txt"}
    opts = c.SearchQueryOptions(include=c.EndsWith(".md"))
    found, _ = await search(
        searcher,
        c.SearchQuery(c.SearchQueryTarget.CONTENTS, c.Contains("beta"), (str(tree),), opts),
    )
    assert {Path(m.path).name for m in found} == {"two.md"}
    # a literal with regex characters is matched literally
    found, _ = await search(
        searcher, c.SearchQuery(c.SearchQueryTarget.CONTENTS, c.Contains("x.y"), (str(tree),))
    )
    assert [Path(m.path).name for m in found] == ["top.txt"]


async def test_path_search_and_pagination(searcher: CommandSearcher, tree: Path) -> None:
    opts = c.SearchQueryOptions(pagination=1, allowed_file_types=(c.FileType.FILE,))
    found, sent = await search(
        searcher, c.SearchQuery(c.SearchQueryTarget.PATH, c.EndsWith(".txt"), (str(tree),), opts)
    )
    names = sorted(Path(m.path).name for m in found)
    assert names == ["h.txt", "one.txt", "top.txt"]
    assert sum(isinstance(s, rs.SearchResults) for s in sent) == 3  # pages of one
    first = found[0]
    assert isinstance(first, c.PathMatch) and first.submatches[0].match == ".txt"
    opts = c.SearchQueryOptions(limit=1, allowed_file_types=(c.FileType.DIR,))
    found, _ = await search(
        searcher, c.SearchQuery(c.SearchQueryTarget.PATH, c.Regex("a"), (str(tree),), opts)
    )
    assert len(found) == 1


async def test_unsupported_options_are_refused(tree: Path) -> None:
    searcher = CommandSearcher(local_run(), frozenset({"grep", "find"}))
    ctx = ApiContext(ConnectionState(1), lambda p: anyio.lowlevel.checkpoint())  # type: ignore[arg-type,return-value]
    for opts in (
        c.SearchQueryOptions(upward=True),
        c.SearchQueryOptions(use_git_ignore_files=True),
    ):
        query = c.SearchQuery(c.SearchQueryTarget.CONTENTS, c.Contains("x"), (str(tree),), opts)
        reply = await call(searcher, ctx, rq.Search(query))  # type: ignore[arg-type]
        assert isinstance(reply, Error) and reply.kind is ErrorKind.UNSUPPORTED
        assert "upward" in reply.description or "use_git_ignore_files" in reply.description
    no_tools = CommandSearcher(local_run(), frozenset())
    query = c.SearchQuery(c.SearchQueryTarget.PATH, c.Contains("x"), (str(tree),))
    reply = await call(no_tools, ctx, rq.Search(query))  # type: ignore[arg-type]
    assert isinstance(reply, Error) and "find" in reply.description
    bad = c.SearchQuery(c.SearchQueryTarget.CONTENTS, c.Regex("(unclosed"), (str(tree),))
    reply = await call(searcher, ctx, rq.Search(bad))  # type: ignore[arg-type]
    assert isinstance(reply, Error) and reply.kind is ErrorKind.INVALID_INPUT


async def test_cancel_search(tree: Path) -> None:
    started = anyio.Event()

    async def slow(argv: list[str]) -> tuple[int | None, bytes, bytes]:
        started.set()
        await anyio.sleep(30)
        return 0, b"", b""

    searcher = CommandSearcher(slow, frozenset({"find"}))
    sent: list[object] = []

    async def send(payload: object) -> None:
        sent.append(payload)

    ctx = ApiContext(ConnectionState(1), send)  # type: ignore[arg-type]
    query = c.SearchQuery(c.SearchQueryTarget.PATH, c.Contains("x"), (str(tree),))
    reply = await call(searcher, ctx, rq.Search(query))  # type: ignore[arg-type]
    assert isinstance(reply, rs.SearchStarted)
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            for work in ctx.take_followups():
                tg.start_soon(work)
            await started.wait()
            ok = await call(searcher, ctx, rq.CancelSearch(reply.id))
            assert isinstance(ok, rs.Ok)
    assert sent == [rs.SearchDone(reply.id)]
    again = await call(searcher, ctx, rq.CancelSearch(reply.id))
    assert isinstance(again, Error) and again.kind is ErrorKind.NOT_FOUND


def test_condition_patterns() -> None:
    assert condition_pattern(c.Equals("a.b")) == r"^a\.b$"
    assert condition_pattern(c.Or((c.StartsWith("x"), c.Contains("y+")))) == r"(^x)|(y\+)"


def test_parse_rg_json() -> None:
    line = json.dumps(
        {
            "type": "match",
            "data": {
                "path": {"text": "/d/f.txt"},
                "lines": {"text": "some beta\n"},
                "line_number": 4,
                "absolute_offset": 30,
                "submatches": [{"match": {"text": "beta"}, "start": 5, "end": 9}],
            },
        }
    ).encode()
    other = b'{"type":"begin","data":{"path":{"text":"/d/f.txt"}}}'
    found = parse_rg_json(other + b"\n" + line + b"\n")
    assert found == [c.ContentsMatch("/d/f.txt", "some beta\n", 4, 30, (c.Submatch("beta", 5, 9),))]
