"""``metadata`` and ``set_permissions`` on the host."""

from __future__ import annotations

import os
import stat
import subprocess
import time
from pathlib import Path

import pytest

from distant_codec import (
    Error,
    ErrorKind,
    FileType,
    Metadata,
    Permissions,
    SetPermissionsOptions,
    UnixMetadata,
)
from distant_codec import requests as rq
from distant_codec import responses as rs
from distant_server.host.files import FileOps

from ._fs_support import NOBODY, as_nobody, put, shared_dir
from .harness import api_client, one

pytestmark = pytest.mark.anyio

OK = rs.Ok()


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def coreutils_birth(path: Path) -> int:
    """``stat -c %W``: birth time in seconds, 0 when unknown (coreutils' convention)."""
    out = subprocess.run(
        ["stat", "-c", "%W", str(path)], capture_output=True, text=True, check=False
    )
    return int(out.stdout.strip() or 0) if out.returncode == 0 else 0


async def metadata(path: Path | str, **options: bool) -> object:
    async with api_client(FileOps()) as client:
        return await one(client, rq.Metadata(str(path), **options))


# -- metadata ------------------------------------------------------------------------------


async def test_metadata_of_a_file(tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_bytes(b"12345")
    f.chmod(0o640)
    os.utime(f, ns=(1_600_000_000_500_000_000, 1_500_000_000_900_000_000))
    reply = await metadata(f)
    assert isinstance(reply, Metadata)
    assert reply == Metadata(
        file_type=FileType.FILE,
        len=5,
        readonly=False,
        accessed=1_600_000_000,
        created=reply.created,
        modified=1_500_000_000,
        unix=UnixMetadata.from_mode(0o640),
    )
    assert reply.canonicalized_path is None and reply.windows is None
    birth = coreutils_birth(f)
    if birth:
        assert reply.created == birth
        assert abs(birth - time.time()) < 600
    else:
        assert reply.created in (None, 0)


async def test_metadata_readonly_means_no_write_bit_at_all(tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_bytes(b"")
    f.chmod(0o444)
    reply = await metadata(f)
    assert isinstance(reply, Metadata) and reply.readonly
    f.chmod(0o464)  # group may write: not readonly
    reply = await metadata(f)
    assert isinstance(reply, Metadata) and not reply.readonly


async def test_metadata_of_dirs_and_links(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    (tmp_path / "f").write_bytes(b"x" * 10)
    (tmp_path / "link").symlink_to(tmp_path / "f")
    (tmp_path / "dirlink").symlink_to(tmp_path / "dir")
    (tmp_path / "broken").symlink_to(tmp_path / "nowhere")
    d = await metadata(tmp_path / "dir")
    assert isinstance(d, Metadata) and d.file_type == FileType.DIR
    link = await metadata(tmp_path / "link")
    assert isinstance(link, Metadata)
    assert link.file_type == FileType.SYMLINK
    assert link.len == len(str(tmp_path / "f"))  # the link itself
    resolved = await metadata(tmp_path / "link", resolve_file_type=True)
    assert isinstance(resolved, Metadata) and resolved.file_type == FileType.FILE
    assert resolved.len == link.len  # only the type is resolved
    dirlink = await metadata(tmp_path / "dirlink", resolve_file_type=True, canonicalize=True)
    assert isinstance(dirlink, Metadata)
    assert dirlink.file_type == FileType.DIR
    assert dirlink.canonicalized_path == str((tmp_path / "dir").resolve())
    broken = await metadata(tmp_path / "broken")
    assert isinstance(broken, Metadata) and broken.file_type == FileType.SYMLINK
    for options in ({"canonicalize": True}, {"resolve_file_type": True}):
        reply = await metadata(tmp_path / "broken", **options)
        assert reply == Error(
            ErrorKind.NOT_FOUND, f"No such file or directory: {tmp_path / 'broken'}"
        )


async def test_metadata_canonicalize(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "f").write_bytes(b"")
    reply = await metadata(f"{tmp_path}/a/./b/../b/f", canonicalize=True)
    assert isinstance(reply, Metadata)
    assert reply.canonicalized_path == str((tmp_path / "a" / "b" / "f").resolve())


async def test_metadata_without_birth_time() -> None:
    reply = await metadata("/proc/version")  # procfs records no birth time
    assert isinstance(reply, Metadata)
    assert reply.created is None
    assert reply.file_type == FileType.FILE and reply.readonly


async def test_metadata_errors(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    assert await metadata(missing) == Error(
        ErrorKind.NOT_FOUND, f"No such file or directory: {missing}"
    )
    with shared_dir() as d:
        os.mkdir(f"{d}/closed", 0o700)
        put(f"{d}/closed/f")
        async with api_client(FileOps()) as client:
            with as_nobody():
                reply = await one(client, rq.Metadata(f"{d}/closed/f"))
        assert reply == Error(ErrorKind.PERMISSION_DENIED, f"Permission denied: {d}/closed/f")


# -- set_permissions -----------------------------------------------------------------------


READONLY = Permissions(owner_write=False, group_write=False, other_write=False)


async def set_perms(path: Path | str, perms: Permissions, **options: bool) -> object:
    async with api_client(FileOps()) as client:
        return await one(
            client, rq.SetPermissions(str(path), perms, SetPermissionsOptions(**options))
        )


async def test_partial_bits_change_only_those(tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_bytes(b"")
    f.chmod(0o4775)
    assert await set_perms(f, READONLY) == OK
    assert mode_of(f) == 0o4555  # set-uid kept, like chmod a-w
    assert await set_perms(f, Permissions(owner_write=True, other_exec=False)) == OK
    assert mode_of(f) == 0o4754
    assert await set_perms(f, Permissions()) == OK  # {} changes nothing
    assert mode_of(f) == 0o4754


async def test_all_nine_bits_set_the_mode_exactly(tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_bytes(b"")
    f.chmod(0o4777)
    assert await set_perms(f, Permissions.from_mode(0o640)) == OK
    assert mode_of(f) == 0o640  # like chmod 640


async def test_recursive(tmp_path: Path) -> None:
    top = tmp_path / "top"
    (top / "a" / "b").mkdir(parents=True)
    (top / "a" / "b" / "f").write_bytes(b"")
    (top / "g").write_bytes(b"")
    everything = [top, top / "a", top / "a" / "b", top / "a" / "b" / "f", top / "g"]
    for p in everything:
        p.chmod(0o755)
    assert await set_perms(top, Permissions(other_read=False, other_exec=False)) == OK
    assert [mode_of(p) for p in everything] == [0o750] + [0o755] * 4
    assert (
        await set_perms(top, Permissions(other_read=False, other_exec=False), recursive=True) == OK
    )
    assert [mode_of(p) for p in everything] == [0o750] * 5


async def test_links_in_a_tree_are_skipped_unless_followed(tmp_path: Path) -> None:
    top = tmp_path / "top"
    top.mkdir()
    outside_file = tmp_path / "outside-file"
    outside_file.write_bytes(b"")
    outside_dir = tmp_path / "outside-dir"
    outside_dir.mkdir()
    (outside_dir / "inner").write_bytes(b"")
    (top / "file-link").symlink_to(outside_file)
    (top / "dir-link").symlink_to(outside_dir)
    (top / "loop").symlink_to(top)  # following must not loop forever
    (top / "own").write_bytes(b"")
    watched = [top / "own", outside_file, outside_dir, outside_dir / "inner"]
    for p in [top, *watched]:
        p.chmod(0o777)
    no_other_write = Permissions(other_write=False)

    assert await set_perms(top, no_other_write, recursive=True) == OK
    assert [mode_of(p) for p in watched] == [0o775, 0o777, 0o777, 0o777]

    assert (
        await set_perms(top, no_other_write, recursive=True, follow_symlinks=True,
                        exclude_symlinks=True)
        == OK
    )  # fmt: skip
    # links' own targets are excluded, but what a followed dir link leads to is walked
    assert [mode_of(p) for p in watched] == [0o775, 0o777, 0o777, 0o775]

    assert await set_perms(top, no_other_write, recursive=True, follow_symlinks=True) == OK
    assert [mode_of(p) for p in watched] == [0o775, 0o775, 0o775, 0o775]


async def test_a_link_given_as_the_path(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.write_bytes(b"")
    target.chmod(0o666)
    link = tmp_path / "link"
    link.symlink_to(target)
    assert await set_perms(link, READONLY, exclude_symlinks=True) == OK
    assert mode_of(target) == 0o666
    assert await set_perms(link, READONLY) == OK  # like chmod: the target changes
    assert mode_of(target) == 0o444
    assert await set_perms(link, Permissions(owner_write=True), follow_symlinks=True) == OK
    assert mode_of(target) == 0o644
    assert link.is_symlink()


async def test_set_permissions_errors(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    assert await set_perms(missing, READONLY) == Error(
        ErrorKind.NOT_FOUND, f"No such file or directory: {missing}"
    )
    broken = tmp_path / "broken"
    broken.symlink_to(missing)
    assert await set_perms(broken, READONLY, follow_symlinks=True) == Error(
        ErrorKind.NOT_FOUND, f"No such file or directory: {broken}"
    )


async def test_set_permissions_denied_and_collected() -> None:
    """``nobody`` may change its own directory but not root's files inside: each failure
    is reported, the rest is still done."""
    with shared_dir() as d:
        mine = f"{d}/mine"
        os.mkdir(mine)
        for name in ("r1", "r2"):
            put(f"{mine}/{name}", b"", 0o644)
        os.chown(mine, NOBODY, NOBODY)
        os.chmod(mine, 0o775)
        async with api_client(FileOps()) as client:
            with as_nobody():
                single = await one(client, rq.SetPermissions(f"{mine}/r1", READONLY))
                tree = await one(
                    client,
                    rq.SetPermissions(mine, READONLY, SetPermissionsOptions(recursive=True)),
                )
        assert single == Error(ErrorKind.PERMISSION_DENIED, f"Operation not permitted: {mine}/r1")
        assert isinstance(tree, Error) and tree.kind == ErrorKind.PERMISSION_DENIED
        assert sorted(tree.description.splitlines()) == [
            f"* Operation not permitted: {mine}/r1",
            f"* Operation not permitted: {mine}/r2",
        ]
        assert stat.S_IMODE(os.stat(mine).st_mode) == 0o555  # its own directory did change
        assert stat.S_IMODE(os.stat(f"{mine}/r1").st_mode) == 0o644
