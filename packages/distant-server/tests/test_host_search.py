"""``search`` / ``cancel_search`` on the host (§7.3, §7.5), through the real dispatcher and a
real loopback connection. Expected values follow distant 0.21's own search tests."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import anyio
import pytest

from distant_codec import Error, ErrorKind, Msg
from distant_codec import common as c
from distant_codec import requests as rq
from distant_codec import responses as rs
from distant_codec.common import FileType, SearchQueryOptions, SearchQueryTarget
from distant_server import ApiContext
from distant_server.host import search as search_mod
from distant_server.host.search import SearchOps, SearchTable

from .harness import api_client, connect, one, serving

pytestmark = pytest.mark.anyio

PATH = SearchQueryTarget.PATH
CONTENTS = SearchQueryTarget.CONTENTS


# -- helpers ---------------------------------------------------------------------------------


def make_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            path.write_text(data)
    return root


UPSTREAM_FILES: dict[str, str | bytes] = {
    "path/to/file1.txt": "some\nlines of text in\na\nfile",
    "path/to/file2.txt": "more text",
    "other/file.txt": "some other file with text",
    "other/dir/bin": "asdfasdfasdfasdfasdfasdfasdfasdfasdf",
}


def query(
    condition: c.Condition,
    paths: Sequence[str | Path],
    target: SearchQueryTarget = PATH,
    **options: Any,
) -> c.SearchQuery:
    return c.SearchQuery(
        target, condition, tuple(str(p) for p in paths), SearchQueryOptions(**options)
    )


async def run_search(
    client: Any, q: c.SearchQuery, timeout: float = 10
) -> tuple[int, list[list[c.SearchQueryMatch]]]:
    """The search id and the batches of its ``search_results``, up to ``search_done``."""
    async with client.stream(Msg.single(rq.Search(q))) as mailbox:
        started = (await mailbox.next(timeout)).payload.value
        assert isinstance(started, rs.SearchStarted), started
        batches: list[list[c.SearchQueryMatch]] = []
        while True:
            msg = (await mailbox.next(timeout)).payload.value
            if isinstance(msg, rs.SearchDone):
                assert msg.id == started.id
                return started.id, batches
            assert isinstance(msg, rs.SearchResults), msg
            assert msg.id == started.id
            assert msg.matches, "an empty search_results"
            batches.append(list(msg.matches))


async def search(client: Any, q: c.SearchQuery) -> list[c.SearchQueryMatch]:
    _, batches = await run_search(client, q)
    return [m for batch in batches for m in batch]


async def found_paths(client: Any, q: c.SearchQuery) -> list[str]:
    return sorted(m.path for m in await search(client, q))


def by_path(matches: list[c.SearchQueryMatch]) -> list[c.SearchQueryMatch]:
    return sorted(matches, key=lambda m: (m.path, getattr(m, "line_number", 0)))


# -- targets and conditions ----------------------------------------------------------------------


async def test_path_target_regex_matches_like_upstream(tmp_path: Path) -> None:
    root = make_tree(tmp_path, {**dict.fromkeys(UPSTREAM_FILES, ""), "dir/other/bin": ""})
    child = len(str(root)) + 1
    async with api_client(SearchOps()) as client:
        _, batches = await run_search(client, query(c.Regex("other"), [root]))
    assert len(batches) == 1  # a quick search is one batch, as upstream's single message
    expected = [
        ("dir/other", child + 4, child + 9),
        ("dir/other/bin", child + 4, child + 9),
        ("other", child, child + 5),
        ("other/dir", child, child + 5),
        ("other/dir/bin", child, child + 5),
        ("other/file.txt", child, child + 5),
    ]
    assert by_path(batches[0]) == [
        c.PathMatch(f"{root}/{rel}", (c.Submatch("other", start, end),))
        for rel, start, end in expected
    ]


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (lambda r: c.Contains("file1"), ["path/to/file1.txt"]),
        (
            lambda r: c.Contains("file"),
            ["other/file.txt", "path/to/file1.txt", "path/to/file2.txt"],
        ),
        (lambda r: c.EndsWith("bin"), ["other/dir/bin"]),
        (lambda r: c.EndsWith("to"), ["path/to"]),
        (
            lambda r: c.StartsWith(f"{r}/p"),
            ["path", "path/to", "path/to/file1.txt", "path/to/file2.txt"],
        ),
        (lambda r: c.Equals(f"{r}/other/dir"), ["other/dir"]),
        (lambda r: c.Equals("other/dir"), []),
        (lambda r: c.Regex(r"file\d\.txt$"), ["path/to/file1.txt", "path/to/file2.txt"]),
        (
            lambda r: c.Or((c.EndsWith("bin"), c.Contains("file2"))),
            ["other/dir/bin", "path/to/file2.txt"],
        ),
        (lambda r: c.Or((c.Equals(f"{r}/other"), c.StartsWith("x"))), ["other"]),
    ],
)
async def test_path_target_conditions(
    tmp_path: Path, condition: Callable[[Path], c.Condition], expected: list[str]
) -> None:
    root = make_tree(tmp_path, UPSTREAM_FILES)
    async with api_client(SearchOps()) as client:
        assert await found_paths(client, query(condition(root), [root])) == [
            f"{root}/{rel}" for rel in expected
        ]


async def test_conditions_escape_regex_metacharacters(tmp_path: Path) -> None:
    root = make_tree(tmp_path, {"a+b(1).txt": "", "aab1.txt": ""})
    async with api_client(SearchOps()) as client:
        assert await found_paths(client, query(c.Contains("a+b(1)"), [root])) == [
            f"{root}/a+b(1).txt"
        ]
        assert await found_paths(client, query(c.Regex(r"a+b\d"), [root])) == [f"{root}/aab1.txt"]


async def test_contents_target_matches_like_upstream(tmp_path: Path) -> None:
    root = make_tree(tmp_path, UPSTREAM_FILES)
    async with api_client(SearchOps()) as client:
        matches = await search(client, query(c.Regex("text"), [root], CONTENTS))
    assert by_path(matches) == [
        c.ContentsMatch(
            f"{root}/other/file.txt",
            "some other file with text",
            1,
            0,
            (c.Submatch("text", 21, 25),),
        ),
        c.ContentsMatch(
            f"{root}/path/to/file1.txt",
            "lines of text in\n",
            2,
            5,
            (c.Submatch("text", 9, 13),),
        ),
        c.ContentsMatch(
            f"{root}/path/to/file2.txt", "more text", 1, 0, (c.Submatch("text", 5, 9),)
        ),
    ]


async def test_contents_multiple_submatches_per_line(tmp_path: Path) -> None:
    root = make_tree(tmp_path, {"path/to/file.txt": "aa ab ac\nba bb bc\nca cb cc"})
    path = f"{root}/path/to/file.txt"
    async with api_client(SearchOps()) as client:
        matches = await search(client, query(c.Regex("[abc][ab]"), [root], CONTENTS))
    assert by_path(matches) == [
        c.ContentsMatch(path, "aa ab ac\n", 1, 0, (c.Submatch("aa", 0, 2), c.Submatch("ab", 3, 5))),
        c.ContentsMatch(path, "ba bb bc\n", 2, 9, (c.Submatch("ba", 0, 2), c.Submatch("bb", 3, 5))),
        c.ContentsMatch(path, "ca cb cc", 3, 18, (c.Submatch("ca", 0, 2), c.Submatch("cb", 3, 5))),
    ]


async def test_contents_conditions_apply_per_line(tmp_path: Path) -> None:
    root = make_tree(tmp_path, {"f.txt": "hello world\nworld hello\nhello\n"})
    f = f"{root}/f.txt"
    async with api_client(SearchOps()) as client:

        async def lines(condition: c.Condition) -> list[int]:
            return [m.line_number for m in await search(client, query(condition, [f], CONTENTS))]  # type: ignore[union-attr]

        assert await lines(c.Equals("hello")) == [3]
        assert await lines(c.StartsWith("hello")) == [1, 3]
        assert await lines(c.EndsWith("hello")) == [2, 3]
        assert await lines(c.Contains("o w")) == [1]
        assert await lines(c.Or((c.Equals("hello"), c.StartsWith("world")))) == [2, 3]
        assert await lines(c.Regex("^$")) == []  # no phantom line after the last break


async def test_empty_matches_follow_rust_find_iter(tmp_path: Path) -> None:
    root = make_tree(tmp_path, {"f.txt": "baa\n"})
    async with api_client(SearchOps()) as client:
        (path_match,) = await search(client, query(c.Regex(".*"), [f"{root}/f.txt"]))
        assert path_match.submatches == (c.Submatch(f"{root}/f.txt", 0, len(f"{root}/f.txt")),)
        (line,) = await search(client, query(c.Regex("a*"), [f"{root}/f.txt"], CONTENTS))
        assert line.submatches == (c.Submatch("", 0, 0), c.Submatch("aa", 1, 3))


async def test_contents_utf8_offsets_are_bytes(tmp_path: Path) -> None:
    root = make_tree(tmp_path, {"u.txt": "zero\nhéllo wörld\n"})
    async with api_client(SearchOps()) as client:
        (m,) = await search(client, query(c.Contains("wörld"), [root], CONTENTS))
    assert m == c.ContentsMatch(
        f"{root}/u.txt", "héllo wörld\n", 2, 5, (c.Submatch("wörld", 7, 13),)
    )


async def test_contents_non_utf8_data_is_bytes(tmp_path: Path) -> None:
    root = make_tree(tmp_path, {"latin1.txt": b"ok\ncaf\xe9 latte\n\xff\xfe tail"})
    path = f"{root}/latin1.txt"
    async with api_client(SearchOps()) as client:
        matches = await search(client, query(c.Regex("latte|caf.|tail"), [root], CONTENTS))
    assert matches == [
        c.ContentsMatch(
            path,
            b"caf\xe9 latte\n",
            2,
            3,
            (c.Submatch(b"caf\xe9", 0, 4), c.Submatch("latte", 5, 10)),
        ),
        c.ContentsMatch(path, b"\xff\xfe tail", 3, 14, (c.Submatch("tail", 3, 7),)),
    ]


async def test_binary_files_found_by_the_walk_stop_at_nul(tmp_path: Path) -> None:
    data = b"text before\nmore text\x00text after\n"
    root = make_tree(tmp_path, {"bin.dat": data, "nul-first.dat": b"\x00text"})
    async with api_client(SearchOps()) as client:
        matches = await search(client, query(c.Contains("text"), [root], CONTENTS))
    # only what precedes the first NUL byte is searched (grep-searcher's quit on NUL)
    assert by_path(matches) == [
        c.ContentsMatch(f"{root}/bin.dat", "text before\n", 1, 0, (c.Submatch("text", 0, 4),)),
        c.ContentsMatch(f"{root}/bin.dat", "more text", 2, 12, (c.Submatch("text", 5, 9),)),
    ]


async def test_explicit_binary_file_reads_nul_as_line_break(tmp_path: Path) -> None:
    # upstream's file: NUL, invalid UTF-8, newline, "HELLO"
    root = make_tree(tmp_path, {"file.bin": bytes([0, 159, 146, 150, 10, 72, 69, 76, 76, 79])})
    async with api_client(SearchOps()) as client:
        condition = c.Regex("HELLO|[^\\x00-\\x7f]+")
        explicit = await search(client, query(condition, [f"{root}/file.bin"], CONTENTS))
        implicit = await search(client, query(condition, [root], CONTENTS))
    assert explicit == [
        c.ContentsMatch(
            f"{root}/file.bin",
            bytes([159, 146, 150, 10]),
            2,
            1,
            (c.Submatch(bytes([159, 146, 150]), 0, 3),),
        ),
        c.ContentsMatch(f"{root}/file.bin", "HELLO", 3, 5, (c.Submatch("HELLO", 0, 5),)),
    ]
    assert implicit == []


async def test_large_file_offsets(tmp_path: Path) -> None:
    big = "".join(f"line {i}\n" for i in range(200_000)) + "needle at the end"
    root = make_tree(tmp_path, {"big.txt": big, "dir/needle": "no needle here either"})
    async with api_client(SearchOps()) as client:
        matches = await search(client, query(c.Contains("needle at"), [root], CONTENTS))
    assert [(m.path, m.line_number, m.absolute_offset) for m in matches] == [  # type: ignore[union-attr]
        (f"{root}/big.txt", 200_001, len(big) - len("needle at the end"))
    ]


# -- errors ------------------------------------------------------------------------------------


async def test_bad_regex_is_invalid_input_naming_it(tmp_path: Path) -> None:
    async with api_client(SearchOps()) as client:
        reply = await one(client, rq.Search(query(c.Regex("(unclosed"), [tmp_path])))
        assert isinstance(reply, Error)
        assert reply.kind == ErrorKind.INVALID_INPUT
        assert "(unclosed" in reply.description
        reply = await one(
            client, rq.Search(query(c.Regex("x"), [tmp_path], include=c.Regex("[z-a]")))
        )
        assert isinstance(reply, Error)
        assert reply.kind == ErrorKind.INVALID_INPUT
        assert "[z-a]" in reply.description


async def test_missing_paths_is_invalid_input() -> None:
    async with api_client(SearchOps()) as client:
        reply = await one(client, rq.Search(query(c.Regex("x"), [])))
        assert reply == Error(ErrorKind.INVALID_INPUT, "missing paths")


async def test_nonexistent_path_gives_no_results(tmp_path: Path) -> None:
    async with api_client(SearchOps()) as client:
        _, batches = await run_search(client, query(c.Regex(""), [tmp_path / "missing"]))
        assert batches == []


# -- batching ------------------------------------------------------------------------------------


async def test_pagination_sends_pages(tmp_path: Path) -> None:
    root = make_tree(tmp_path, UPSTREAM_FILES)
    async with api_client(SearchOps()) as client:
        _, batches = await run_search(
            client, query(c.Regex("text"), [root], CONTENTS, pagination=2)
        )
        assert [len(b) for b in batches] == [2, 1]
        _, batches = await run_search(client, query(c.Regex(""), [root], pagination=3))
        assert [len(b) for b in batches] == [3, 3, 3]  # root + 8 entries


async def test_limit_stops_the_search(tmp_path: Path) -> None:
    root = make_tree(tmp_path, UPSTREAM_FILES)
    async with api_client(SearchOps()) as client:
        _, batches = await run_search(client, query(c.Regex("text"), [root], CONTENTS, limit=2))
        assert [len(b) for b in batches] == [2]
        _, batches = await run_search(
            client, query(c.Regex("text"), [root], CONTENTS, limit=2, pagination=1)
        )
        assert [len(b) for b in batches] == [1, 1]
        _, batches = await run_search(client, query(c.Regex(""), [root], limit=0))
        assert batches == []


async def test_large_result_sets_stream_in_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_tree(tmp_path, {f"d{i // 100}/f{i}": "" for i in range(2500)})
    monkeypatch.setattr(search_mod, "BATCH_MATCHES", 1000)
    async with api_client(SearchOps()) as client:
        _, batches = await run_search(client, query(c.Regex("/f"), [tmp_path]))
    assert sum(len(b) for b in batches) == 2500
    assert len(batches) >= 3
    assert all(len(b) <= 1000 for b in batches)


async def test_batches_are_bounded_in_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_tree(tmp_path, {f"f{i:02}": "x" * 1000 + " needle\n" for i in range(20)})
    monkeypatch.setattr(search_mod, "BATCH_BYTES", 2500)
    async with api_client(SearchOps()) as client:
        _, batches = await run_search(client, query(c.Contains("needle"), [tmp_path], CONTENTS))
    assert [len(b) for b in batches] == [3] * 6 + [2]


# -- walking options -------------------------------------------------------------------------------


async def test_max_depth(tmp_path: Path) -> None:
    root = make_tree(tmp_path, dict.fromkeys(UPSTREAM_FILES, ""))
    r = str(root)
    levels = {
        0: [r],
        1: [r, f"{r}/other", f"{r}/path"],
        2: [r, f"{r}/other", f"{r}/other/dir", f"{r}/other/file.txt", f"{r}/path", f"{r}/path/to"],
    }
    levels[3] = sorted(
        [*levels[2], f"{r}/other/dir/bin", f"{r}/path/to/file1.txt", f"{r}/path/to/file2.txt"]
    )
    async with api_client(SearchOps()) as client:
        for depth, expected in levels.items():
            assert await found_paths(client, query(c.Regex(".*"), [root], max_depth=depth)) == (
                expected
            )


async def test_allowed_file_types(tmp_path: Path) -> None:
    (tmp_path / "file").touch()
    (tmp_path / "dir").mkdir()
    (tmp_path / "symlink").symlink_to(tmp_path / "file")
    r = str(tmp_path)
    cases = {
        (): [r, f"{r}/dir", f"{r}/file", f"{r}/symlink"],
        (FileType.FILE,): [f"{r}/file"],
        (FileType.DIR,): [r, f"{r}/dir"],
        (FileType.SYMLINK,): [f"{r}/symlink"],
        (FileType.FILE, FileType.SYMLINK): [f"{r}/file", f"{r}/symlink"],
    }
    async with api_client(SearchOps()) as client:
        for allowed, expected in cases.items():
            q = query(c.Regex(".*"), [tmp_path], allowed_file_types=allowed)
            assert await found_paths(client, q) == expected, allowed


async def test_follow_symbolic_links(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("found it")
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "inner").write_text("found it")
    (tmp_path / "file_symlink").symlink_to(tmp_path / "file")
    (tmp_path / "dir_symlink").symlink_to(tmp_path / "dir")
    (tmp_path / "dir" / "loop").symlink_to(tmp_path)
    (tmp_path / "broken").symlink_to(tmp_path / "nowhere")
    r = str(tmp_path)
    async with api_client(SearchOps()) as client:
        q = query(c.Regex(".*"), [tmp_path], allowed_file_types=(FileType.FILE,))
        assert await found_paths(client, q) == [f"{r}/dir/inner", f"{r}/file"]
        q = query(
            c.Regex(".*"),
            [tmp_path],
            allowed_file_types=(FileType.FILE,),
            follow_symbolic_links=True,
        )
        assert await found_paths(client, q) == [
            f"{r}/dir/inner",
            f"{r}/dir_symlink/inner",
            f"{r}/file",
            f"{r}/file_symlink",
        ]  # the loop back to the root is not followed; the broken link is skipped
        q = query(c.Contains("found"), [tmp_path], CONTENTS)
        assert await found_paths(client, q) == [f"{r}/dir/inner", f"{r}/file"]
        q = query(c.Contains("found"), [tmp_path], CONTENTS, follow_symbolic_links=True)
        assert await found_paths(client, q) == [
            f"{r}/dir/inner",
            f"{r}/dir_symlink/inner",
            f"{r}/file",
            f"{r}/file_symlink",
        ]
        # a root given as a symlink is resolved and walked
        q = query(c.Contains("found"), [tmp_path / "dir_symlink"], CONTENTS)
        assert await found_paths(client, q) == [f"{r}/dir_symlink/inner"]


async def test_include_and_exclude_filter_what_is_reported(tmp_path: Path) -> None:
    root = make_tree(tmp_path, UPSTREAM_FILES)
    async with api_client(SearchOps()) as client:
        q = query(c.Regex("text"), [root], CONTENTS, include=c.Regex("other"))
        assert await found_paths(client, q) == [f"{root}/other/file.txt"]
        q = query(c.Regex("text"), [root], CONTENTS, exclude=c.Regex("other"))
        assert await found_paths(client, q) == [
            f"{root}/path/to/file1.txt",
            f"{root}/path/to/file2.txt",
        ]
        # the filters do not stop the walk: "to/" is not included but its files are
        q = query(c.Regex(""), [root], include=c.EndsWith(".txt"), exclude=c.Contains("file2"))
        assert await found_paths(client, q) == [
            f"{root}/other/file.txt",
            f"{root}/path/to/file1.txt",
        ]


async def test_multiple_paths(tmp_path: Path) -> None:
    root = make_tree(tmp_path, UPSTREAM_FILES)
    async with api_client(SearchOps()) as client:
        q = query(
            c.Regex("text"),
            [root / "path/to/file1.txt", root / "path/to/file2.txt", root / "path/to/file1.txt"],
            CONTENTS,
        )
        matches = await search(client, q)
    assert [(m.path, m.line_number) for m in matches] == [  # type: ignore[union-attr]
        (f"{root}/path/to/file1.txt", 2),
        (f"{root}/path/to/file2.txt", 1),
    ]


async def test_upward_search_applies_max_depth_in_reverse(tmp_path: Path) -> None:
    files = [
        "path/to/zqfile1.txt",
        "path/to/zqfile2.txt",
        "path/to/child/zqfile1.txt",
        "path/to/child/zqfile2.txt",
        "path/zqfile1.txt",
        "path/zqfile2.txt",
        "other/zqfile1.txt",
        "other/zqfile2.txt",
        "zqfile1.txt",
        "zqfile2.txt",
    ]
    root = make_tree(tmp_path, dict.fromkeys(files, ""))

    def p(rel: str) -> str:
        return f"{root}/{rel}"

    cases: list[tuple[str, str, int | None, list[str]]] = [
        ("path/to/zqfile1.txt", "to", 0, [p("path/to/zqfile1.txt")]),
        ("path/to", "other", 0, []),
        (
            "path/to",
            "to",
            0,
            [p("path/to"), p("path/to/child"), p("path/to/zqfile1.txt"), p("path/to/zqfile2.txt")],
        ),
        (
            "path/to/zqfile1.txt",
            "to",
            1,
            [p("path/to"), p("path/to/child"), p("path/to/zqfile1.txt"), p("path/to/zqfile2.txt")],
        ),
        ("path/to/zqfile1.txt", "zqfile1", 2, [p("path/zqfile1.txt"), p("path/to/zqfile1.txt")]),
        (
            "path/to/zqfile1.txt",
            "zqfile1",
            99,
            [p("zqfile1.txt"), p("path/zqfile1.txt"), p("path/to/zqfile1.txt")],
        ),
        (
            "path/to/zqfile1.txt",
            "zqfile1",
            None,
            [p("zqfile1.txt"), p("path/zqfile1.txt"), p("path/to/zqfile1.txt")],
        ),
        # each directory once, although "path/to" is both a root and an entry of "path"
        ("path/to/zqfile1.txt", r"/to$", 2, [p("path/to")]),
    ]
    async with api_client(SearchOps()) as client:
        for start, regex, depth, expected in cases:
            q = query(c.Regex(regex), [p(start)], upward=True, max_depth=depth)
            assert await found_paths(client, q) == sorted(expected), (start, regex, depth)


async def test_upward_from_a_relative_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_tree(tmp_path, {"marker.txt": "", "sub/x": ""})
    monkeypatch.chdir(root / "sub")
    async with api_client(SearchOps()) as client:
        q = query(c.Contains("marker"), ["."], upward=True, max_depth=1)
        assert await found_paths(client, q) == [f"{root}/marker.txt"]


# -- hidden and ignore files -------------------------------------------------------------------


def rel_paths(root: Path, paths: list[str]) -> set[str]:
    return {os.path.relpath(p, root) for p in paths if p != str(root)}


async def test_ignore_hidden(tmp_path: Path) -> None:
    root = tmp_path / ".hidden-root"
    make_tree(root, {".dotfile": "", ".dotdir/inner": "", "visible/.x": "", "visible/y": ""})
    async with api_client(SearchOps()) as client:
        every = await found_paths(client, query(c.Regex(""), [root]))
        assert rel_paths(root, every) == {
            ".dotfile",
            ".dotdir",
            ".dotdir/inner",
            "visible",
            "visible/.x",
            "visible/y",
        }
        shown = await found_paths(client, query(c.Regex(""), [root], ignore_hidden=True))
        assert str(root) in shown  # the root is never hidden
        assert rel_paths(root, shown) == {"visible", "visible/y"}


IGNORE_TREE: dict[str, str | bytes] = {
    "keep.txt": "",
    "debug.log": "",
    "build/out.o": "",
    "src/main.c": "",
    "src/trace.log": "",
    "src/important.log": "",
    "src/gen/code.c": "",
    "docs/a.md": "",
}


async def test_use_ignore_files(tmp_path: Path) -> None:
    root = make_tree(
        tmp_path,
        {
            **IGNORE_TREE,
            ".ignore": "*.log\nbuild/\n",
            "src/.ignore": "!important.log\ngen\n",
        },
    )
    async with api_client(SearchOps()) as client:
        everything = rel_paths(root, await found_paths(client, query(c.Regex(""), [root])))
        assert {"debug.log", "build/out.o", "src/gen/code.c"} <= everything
        q = query(c.Regex(""), [root], use_ignore_files=True)
        assert rel_paths(root, await found_paths(client, q)) == {
            ".ignore",
            "keep.txt",
            "src",
            "src/.ignore",
            "src/main.c",
            "src/important.log",  # re-included by the nearer .ignore
            "docs",
            "docs/a.md",
        }
        # contents searches skip ignored files too
        (root / "debug.log").write_text("needle")
        (root / "keep.txt").write_text("needle")
        q = query(c.Contains("needle"), [root], CONTENTS, use_ignore_files=True)
        assert await found_paths(client, q) == [f"{root}/keep.txt"]


async def test_use_parent_ignore_files(tmp_path: Path) -> None:
    make_tree(tmp_path, {".ignore": "*.log\n", "project/a.log": "", "project/a.txt": ""})
    root = tmp_path / "project"
    async with api_client(SearchOps()) as client:

        async def names(**options: Any) -> set[str]:
            q = query(c.Regex(""), [root], **options)
            return rel_paths(root, await found_paths(client, q))

        assert await names() == {"a.log", "a.txt"}
        assert await names(use_ignore_files=True) == {"a.log", "a.txt"}  # not the parent's
        assert await names(use_parent_ignore_files=True) == {"a.txt"}
        assert await names(use_ignore_files=True, use_parent_ignore_files=True) == {"a.txt"}


def make_repo(root: Path) -> Path:
    make_tree(
        root,
        {
            **IGNORE_TREE,
            ".git/HEAD": "ref: refs/heads/main\n",
            ".git/info/exclude": "docs/\n",
            ".gitignore": "*.log\n/build\n",
            "src/.gitignore": "gen/\n!important.log\n",
        },
    )
    return root


async def test_use_git_ignore_files_inside_a_repository(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo")
    async with api_client(SearchOps()) as client:

        async def names(path: Path, **options: Any) -> set[str]:
            q = query(c.Regex(""), [path], ignore_hidden=True, **options)
            return rel_paths(path, await found_paths(client, q))

        assert await names(root, use_git_ignore_files=True) == {
            "keep.txt",
            "src",
            "src/main.c",
            "src/important.log",
            "docs",
            "docs/a.md",
        }
        # the repository root's .gitignore applies above a sub-directory root only with
        # use_parent_ignore_files (ripgrep's "parents")
        assert await names(root / "src", use_git_ignore_files=True) == {
            "main.c",
            "trace.log",
            "important.log",
        }
        assert await names(
            root / "src", use_git_ignore_files=True, use_parent_ignore_files=True
        ) == {"main.c", "important.log"}


async def test_gitignore_needs_a_repository(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo")
    (root / ".git" / "HEAD").unlink()
    (root / ".git" / "info" / "exclude").unlink()
    (root / ".git" / "info").rmdir()
    (root / ".git").rmdir()
    async with api_client(SearchOps()) as client:
        q = query(c.Regex(""), [root], use_git_ignore_files=True, use_git_exclude_files=True)
        found = rel_paths(root, await found_paths(client, q))
        assert {"debug.log", "build/out.o", "src/gen/code.c", "docs/a.md"} <= found
        # a .git *file* (worktree or submodule) makes a repository too
        (root / ".git").write_text("gitdir: /nonexistent\n")
        found = rel_paths(root, await found_paths(client, q))
        assert "debug.log" not in found


async def test_use_git_exclude_files(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo")
    async with api_client(SearchOps()) as client:
        q = query(c.Regex(""), [root], ignore_hidden=True, use_git_exclude_files=True)
        found = rel_paths(root, await found_paths(client, q))
        assert "docs" not in found
        assert "docs/a.md" not in found
        assert {"debug.log", "build", "src/gen/code.c"} <= found  # .gitignore not in use
        q = query(
            c.Regex(""),
            [root],
            ignore_hidden=True,
            use_git_exclude_files=True,
            use_git_ignore_files=True,
        )
        assert rel_paths(root, await found_paths(client, q)) == {
            "keep.txt",
            "src",
            "src/main.c",
            "src/important.log",
        }


async def test_use_global_git_ignore_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    xdg = tmp_path / "xdg"
    (xdg / "git").mkdir(parents=True)
    (xdg / "git" / "ignore").write_text("*.c\n")
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg))
    root = make_repo(tmp_path / "repo")
    outside = make_tree(tmp_path / "plain", {"x.c": ""})
    async with api_client(SearchOps()) as client:

        async def names(path: Path, **options: Any) -> set[str]:
            q = query(c.Regex(""), [path], ignore_hidden=True, **options)
            return rel_paths(path, await found_paths(client, q))

        found = await names(root, use_global_git_ignore_files=True)
        assert "src/main.c" not in found
        assert "src/gen/code.c" not in found
        assert {"debug.log", "keep.txt"} <= found
        assert await names(outside, use_global_git_ignore_files=True) == {"x.c"}  # no repo
        # core.excludesFile in ~/.gitconfig takes over from the XDG default
        (home / "custom-ignore").write_text("*.md\n")
        (home / ".gitconfig").write_text(
            '[user]\n\tname = x\n[core]\n\texcludesFile = "~/custom-ignore"\n'
        )
        found = await names(root, use_global_git_ignore_files=True)
        assert "docs/a.md" not in found
        assert "src/main.c" in found


# -- cancellation and concurrency -----------------------------------------------------------------


def slow_file(path: Path, lines: int = 20_000) -> Path:
    """A file whose lines each cost ``[a-z]+\\d`` about a millisecond (no match)."""
    path.write_text(("a" * 200 + "\n") * lines)
    return path


SLOW = c.Regex(r"[a-z]+\d")


async def test_cancel_search(tmp_path: Path) -> None:
    slow = slow_file(tmp_path / "slow.txt")
    async with api_client(SearchOps()) as client:
        async with client.stream(Msg.single(rq.Search(query(SLOW, [slow], CONTENTS)))) as box:
            started = (await box.next(5)).payload.value
            assert isinstance(started, rs.SearchStarted)
            await anyio.sleep(0.2)
            begin = anyio.current_time()
            assert await one(client, rq.CancelSearch(started.id)) == rs.Ok()
            done = (await box.next(5)).payload.value
            assert done == rs.SearchDone(started.id)  # search_done still ends the stream
            assert anyio.current_time() - begin < 1
        again = await one(client, rq.CancelSearch(started.id))
        assert isinstance(again, Error)
        assert again.kind == ErrorKind.NOT_FOUND


async def test_cancel_unknown_search_is_not_found() -> None:
    async with api_client(SearchOps()) as client:
        reply = await one(client, rq.CancelSearch(12345))
        assert reply == Error(
            ErrorKind.NOT_FOUND, "[Query 12345] Cancellation failed because no search found"
        )


async def test_search_table_cancels_everything_on_close(tmp_path: Path) -> None:
    table = SearchTable()
    p = search_mod.plan(query(c.Regex("x"), [tmp_path]))
    searches = [table.start(p) for _ in range(3)]
    assert len({s.id for s in searches}) == 3
    assert all(s.id in table for s in searches)
    await table.aclose()
    assert all(s.cancelled.is_set() for s in searches)
    assert not any(s.id in table for s in searches)


class QuickApi(SearchOps):
    """A quick operation beside the searches, to time while one runs."""

    async def metadata(self, ctx: ApiContext, req: rq.Metadata) -> c.Metadata:
        st = os.stat(req.path)
        return c.Metadata(file_type=FileType.FILE, len=st.st_size, readonly=False)


async def timed_metadata(client: Any, path: Path) -> float:
    begin = anyio.current_time()
    reply = await one(client, rq.Metadata(str(path)), timeout=5)
    assert isinstance(reply, c.Metadata)
    return anyio.current_time() - begin


async def test_a_long_search_does_not_delay_other_requests(tmp_path: Path) -> None:
    slow = slow_file(tmp_path / "slow.txt")
    async with (
        serving(QuickApi()) as (_server, port, key),
        connect(port, key) as first,
        connect(port, key) as second,
    ):
        q = query(SLOW, [tmp_path], CONTENTS)
        async with first.stream(Msg.single(rq.Search(q))) as box:
            started = (await box.next(5)).payload.value
            assert isinstance(started, rs.SearchStarted)
            await anyio.sleep(0.1)
            same = [await timed_metadata(first, slow) for _ in range(5)]
            other = [await timed_metadata(second, slow) for _ in range(5)]
            assert box.pending == 0  # the search is still running: nothing sent yet
            assert max(same) < 0.2, same
            assert max(other) < 0.2, other
            assert await one(first, rq.CancelSearch(started.id)) == rs.Ok()
            assert (await box.next(5)).payload.value == rs.SearchDone(started.id)
