"""``dir_read`` on the host: depth, absolute, canonicalize, include_root, ordering, and
per-entry errors collected instead of failing the request."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from distant_codec import DirEntry, Error, ErrorKind, FileType
from distant_codec import requests as rq
from distant_codec import responses as rs
from distant_server.host.files import FileOps

from ._fs_support import as_nobody, shared_dir
from .harness import api_client, one

pytestmark = pytest.mark.anyio

DIR, FILE, LINK = FileType.DIR, FileType.FILE, FileType.SYMLINK


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """Upstream's test tree::

    root/file1
    root/link1 -> root/sub1/file2
    root/sub1/
    root/sub1/file2
    """
    base = tmp_path.resolve() / "root"  # canonical, as the server reports the root
    (base / "sub1").mkdir(parents=True)
    (base / "file1").write_bytes(b"")
    (base / "sub1" / "file2").write_bytes(b"")
    (base / "link1").symlink_to(base / "sub1" / "file2")
    return base


async def read(path: Path | str, **options: object) -> rs.DirEntries:
    async with api_client(FileOps()) as client:
        reply = await one(client, rq.DirRead(str(path), **options))  # type: ignore[arg-type]
    assert isinstance(reply, rs.DirEntries), reply
    return reply


def entries(reply: rs.DirEntries) -> list[tuple[str, FileType, int]]:
    return [(e.path, e.file_type, e.depth) for e in reply.entries]


async def test_depth_one_is_the_default(root: Path) -> None:
    reply = await read(root)
    assert entries(reply) == [("file1", FILE, 1), ("link1", LINK, 1), ("sub1", DIR, 1)]
    assert reply.errors == ()


async def test_depth_zero_is_unlimited(root: Path) -> None:
    (root / "sub1" / "sub2" / "sub3").mkdir(parents=True)
    (root / "sub1" / "sub2" / "sub3" / "leaf").write_bytes(b"")
    reply = await read(root, depth=0)
    assert entries(reply) == [
        ("file1", FILE, 1),
        ("link1", LINK, 1),
        ("sub1", DIR, 1),
        ("sub1/file2", FILE, 2),
        ("sub1/sub2", DIR, 2),
        ("sub1/sub2/sub3", DIR, 3),
        ("sub1/sub2/sub3/leaf", FILE, 4),
    ]
    two = await read(root, depth=2)
    assert entries(two) == entries(reply)[:5]


async def test_include_root_adds_the_canonical_root_at_depth_zero(
    root: Path, tmp_path: Path
) -> None:
    (tmp_path / "via-link").symlink_to(root)
    reply = await read(tmp_path / "via-link", include_root=True)
    assert entries(reply) == [
        (str(root), DIR, 0),
        ("file1", FILE, 1),
        ("link1", LINK, 1),
        ("sub1", DIR, 1),
    ]
    with_absolute = await read(root, include_root=True, absolute=True)
    assert with_absolute.entries[0] == DirEntry(str(root), DIR, 0)


async def test_absolute_paths_start_at_the_canonical_root(root: Path, tmp_path: Path) -> None:
    (tmp_path / "via-link").symlink_to(root)
    reply = await read(tmp_path / "via-link", absolute=True, depth=0)
    base = str(root)
    assert entries(reply) == [
        (f"{base}/file1", FILE, 1),
        (f"{base}/link1", LINK, 1),
        (f"{base}/sub1", DIR, 1),
        (f"{base}/sub1/file2", FILE, 2),
    ]


async def test_canonicalize_resolves_links(root: Path) -> None:
    outside = root.parent / "outside"
    outside.write_bytes(b"")
    (root / "out-link").symlink_to(outside)
    reply = await read(root, canonicalize=True)
    assert entries(reply) == [
        ("file1", FILE, 1),
        ("sub1/file2", LINK, 1),  # link1, resolved; its type is still the link's
        (str(outside), LINK, 1),  # outside the root: absolute
        ("sub1", DIR, 1),
    ]
    absolute = await read(root, canonicalize=True, absolute=True)
    expected = f"{root}/sub1/file2"
    assert absolute.entries[1] == DirEntry(expected, LINK, 1)


async def test_broken_link_under_canonicalize_is_an_entry_error(root: Path) -> None:
    (root / "broken").symlink_to(root / "nowhere")
    plain = await read(root)
    assert ("broken", LINK, 1) in entries(plain)
    assert plain.errors == ()
    reply = await read(root, canonicalize=True)
    assert [e[0] for e in entries(reply)] == ["file1", "sub1/file2", "sub1"]
    assert reply.errors == (
        Error(ErrorKind.NOT_FOUND, f"No such file or directory: {root}/broken"),
    )


async def test_entries_are_sorted_by_name_bytes(tmp_path: Path) -> None:
    for name in ["b", "a0", "C", "a", "_", "é", "Z9"]:
        (tmp_path / name).write_bytes(b"")
    reply = await read(tmp_path)
    assert [e.path for e in reply.entries] == ["C", "Z9", "_", "a", "a0", "b", "é"]


async def test_other_file_kinds(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    reply = await read(tmp_path)
    assert entries(reply) == [("fifo", LINK, 1)]  # upstream: neither dir nor file


async def test_missing_root_fails(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    async with api_client(FileOps()) as client:
        reply = await one(client, rq.DirRead(str(missing)))
    assert reply == Error(ErrorKind.NOT_FOUND, f"No such file or directory: {missing}")


async def test_a_file_as_root_lists_nothing(root: Path) -> None:
    assert entries(await read(root / "file1")) == []
    reply = await read(root / "file1", include_root=True)
    assert entries(reply) == [(str(root / "file1"), FILE, 0)]


async def test_empty_directory(tmp_path: Path) -> None:
    assert await read(tmp_path, depth=0) == rs.DirEntries((), ())


async def test_unreadable_subdirectories_are_collected_as_errors() -> None:
    """The walk goes on past a directory it may not open; a root that cannot be listed
    fails the request."""
    with shared_dir() as d:
        base = Path(d)
        (base / "a-open" / "inner").mkdir(parents=True)
        (base / "b-closed" / "hidden").mkdir(parents=True)
        (base / "b-closed").chmod(0o700)
        (base / "c-file").write_bytes(b"")
        async with api_client(FileOps()) as client:
            with as_nobody():
                reply = await one(client, rq.DirRead(d, depth=0))
                shallow = await one(client, rq.DirRead(d, depth=1))
                closed = await one(client, rq.DirRead(f"{d}/b-closed"))
        assert isinstance(reply, rs.DirEntries)
        assert entries(reply) == [
            ("a-open", DIR, 1),
            ("a-open/inner", DIR, 2),
            ("b-closed", DIR, 1),
            ("c-file", FILE, 1),
        ]
        assert reply.errors == (
            Error(ErrorKind.PERMISSION_DENIED, f"Permission denied: {d}/b-closed"),
        )
        # Not descending below the depth limit means not even opening b-closed.
        assert isinstance(shallow, rs.DirEntries) and shallow.errors == ()
        assert closed == Error(ErrorKind.PERMISSION_DENIED, f"Permission denied: {d}/b-closed")


async def test_batch_like_the_cli_fs_read(root: Path) -> None:
    """``distant fs read`` sends [file_read, dir_read]: one fails, the other answers."""
    from distant_codec import Msg

    async with api_client(FileOps()) as client:
        reply = await client.request(
            Msg.batch([rq.FileRead(str(root)), rq.DirRead(str(root))]), timeout=10
        )
    file_reply, dir_reply = reply.payload.items
    assert isinstance(file_reply, Error)
    assert isinstance(dir_reply, rs.DirEntries) and len(dir_reply.entries) == 3
