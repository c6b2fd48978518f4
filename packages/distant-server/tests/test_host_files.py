"""Host file operations through the real dispatcher over a loopback connection:
file_read(_text), file_write(_text) (atomic), file_append(_text), dir_create, remove, copy,
rename, exists; success and error paths, including real permission-denied answers."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import anyio
import anyio.to_thread
import pytest

from distant_codec import Error, ErrorKind, Msg
from distant_codec import requests as rq
from distant_codec import responses as rs
from distant_server.host import fs_io
from distant_server.host.files import FILE_CAPABILITIES, FileOps

from ._fs_support import NOBODY, as_nobody, exists, get, put, shared_dir, temp_leftovers
from .harness import api_client, one

pytestmark = pytest.mark.anyio

OK = rs.Ok()


def assert_error(reply: object, kind: ErrorKind, path: str | Path) -> None:
    assert isinstance(reply, Error), reply
    assert reply.kind == kind, reply
    assert str(path) in reply.description, reply


def current_umask() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("Umask:"):
            return int(line.split()[1], 8)
    raise AssertionError("no Umask in /proc/self/status")


# -- reads ---------------------------------------------------------------------------------


async def test_file_read_returns_bytes(tmp_path: Path) -> None:
    data = bytes(range(256)) * 100
    (tmp_path / "f").write_bytes(data)
    (tmp_path / "empty").write_bytes(b"")
    async with api_client(FileOps()) as client:
        assert await one(client, rq.FileRead(str(tmp_path / "f"))) == rs.Blob(data)
        assert await one(client, rq.FileRead(str(tmp_path / "empty"))) == rs.Blob(b"")


async def test_file_read_errors_name_the_path(tmp_path: Path) -> None:
    async with api_client(FileOps()) as client:
        missing = tmp_path / "missing"
        assert_error(await one(client, rq.FileRead(str(missing))), ErrorKind.NOT_FOUND, missing)
        reply = await one(client, rq.FileRead(str(tmp_path)))  # a directory
        assert isinstance(reply, Error)
        assert reply.description == f"Is a directory: {tmp_path}"
        reply = await one(client, rq.FileReadText(str(tmp_path / "missing")))
        assert_error(reply, ErrorKind.NOT_FOUND, missing)


async def test_file_read_text(tmp_path: Path) -> None:
    (tmp_path / "t").write_text("héllo wörld ✓", encoding="utf-8")
    (tmp_path / "bad").write_bytes(b"ok\xff\xfe")
    async with api_client(FileOps()) as client:
        assert await one(client, rq.FileReadText(str(tmp_path / "t"))) == rs.Text("héllo wörld ✓")
        reply = await one(client, rq.FileReadText(str(tmp_path / "bad")))
        assert_error(reply, ErrorKind.INVALID_DATA, tmp_path / "bad")
        assert "UTF-8" in reply.description


async def test_permission_denied_reading_and_writing() -> None:
    """Real EACCES: the server acts as ``nobody`` on root's private files."""
    with shared_dir() as d:
        secret = put(f"{d}/secret", b"root only", 0o600)
        readable = put(f"{d}/readable", b"original", 0o644)
        async with api_client(FileOps()) as client:
            with as_nobody():
                r_bytes = await one(client, rq.FileRead(str(secret)))
                r_text = await one(client, rq.FileReadText(str(secret)))
                r_new = await one(client, rq.FileWrite(f"{d}/new", b"x"))
                r_existing = await one(client, rq.FileWriteText(str(readable), "changed"))
                r_append = await one(client, rq.FileAppend(str(readable), b"more"))
                r_append_text = await one(client, rq.FileAppendText(str(readable), "more"))
        for reply, path in [
            (r_bytes, secret),
            (r_text, secret),
            (r_new, f"{d}/new"),
            (r_existing, readable),
            (r_append, readable),
            (r_append_text, readable),
        ]:
            assert_error(reply, ErrorKind.PERMISSION_DENIED, path)
        assert get(readable) == b"original"
        assert sorted(os.listdir(d)) == ["readable", "secret"]


async def test_permission_denied_on_read_only_kernel_files() -> None:
    """/sys attributes refuse the wrong access mode even to root."""
    write_only, read_only = "/sys/bus/pci/rescan", "/sys/kernel/uevent_seqnum"
    if not (exists(write_only) and exists(read_only)):
        pytest.skip("needs sysfs with /sys/bus/pci/rescan and /sys/kernel/uevent_seqnum")
    before = int(get(read_only))
    async with api_client(FileOps()) as client:
        reply = await one(client, rq.FileRead(write_only))
        assert_error(reply, ErrorKind.PERMISSION_DENIED, write_only)
        # sysfs takes no temp file, so the write goes in place, where it is refused
        reply = await one(client, rq.FileWrite(read_only, b"1"))
        assert_error(reply, ErrorKind.PERMISSION_DENIED, read_only)
    assert int(get(read_only)) >= before


# -- atomic writes -------------------------------------------------------------------------


async def test_file_write_creates_and_replaces(tmp_path: Path) -> None:
    target = tmp_path / "f"
    async with api_client(FileOps()) as client:
        assert await one(client, rq.FileWrite(str(target), b"first version, long")) == OK
        assert target.read_bytes() == b"first version, long"
        assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~current_umask()
        assert await one(client, rq.FileWriteText(str(target), "short ✓")) == OK
        assert target.read_text(encoding="utf-8") == "short ✓"
        assert await one(client, rq.FileWrite(str(target), b"")) == OK
        assert target.read_bytes() == b""
    assert temp_leftovers(str(tmp_path)) == []


async def test_file_write_keeps_mode_and_owner(tmp_path: Path) -> None:
    target = tmp_path / "script"
    target.write_bytes(b"#!/bin/sh\n")
    os.chown(target, NOBODY, NOBODY)
    target.chmod(0o4751)  # after chown, which clears set-id bits
    async with api_client(FileOps()) as client:
        assert await one(client, rq.FileWrite(str(target), b"#!/bin/sh\necho hi\n")) == OK
    st = target.stat()
    assert target.read_bytes() == b"#!/bin/sh\necho hi\n"
    assert stat.S_IMODE(st.st_mode) == 0o4751
    if os.geteuid() == 0:
        assert (st.st_uid, st.st_gid) == (NOBODY, NOBODY)


async def test_file_write_through_a_symlink_keeps_the_link(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.write_bytes(b"old")
    link = tmp_path / "link"
    link.symlink_to(real)
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "created-through-link")
    async with api_client(FileOps()) as client:
        assert await one(client, rq.FileWrite(str(link), b"new")) == OK
        assert await one(client, rq.FileWrite(str(dangling), b"hello")) == OK
    assert link.is_symlink() and real.read_bytes() == b"new"
    assert dangling.is_symlink() and (tmp_path / "created-through-link").read_bytes() == b"hello"


async def test_file_write_with_the_longest_names(tmp_path: Path) -> None:
    """The temp file name stays within NAME_MAX however long the target's name is."""
    names = ["x" * 255, "é" * 127]  # 255 and 254 bytes
    async with api_client(FileOps()) as client:
        for name in names:
            assert await one(client, rq.FileWrite(str(tmp_path / name), b"a")) == OK
            assert await one(client, rq.FileWrite(str(tmp_path / name), b"b")) == OK
    assert sorted(os.listdir(tmp_path)) == sorted(names)


async def test_file_write_errors(tmp_path: Path) -> None:
    async with api_client(FileOps()) as client:
        into_missing = tmp_path / "no" / "such" / "dir" / "f"
        reply = await one(client, rq.FileWrite(str(into_missing), b"x"))
        assert reply == Error(ErrorKind.NOT_FOUND, f"No such file or directory: {into_missing}")
        reply = await one(client, rq.FileWriteText(str(into_missing), "x"))
        assert_error(reply, ErrorKind.NOT_FOUND, into_missing)
        reply = await one(client, rq.FileWrite(str(tmp_path), b"x"))  # a directory
        assert reply == Error(ErrorKind.UNKNOWN, f"Is a directory: {tmp_path}")
        (tmp_path / "file").write_bytes(b"")
        under_file = tmp_path / "file" / "child"
        reply = await one(client, rq.FileWrite(str(under_file), b"x"))
        assert isinstance(reply, Error) and str(under_file) in reply.description
    assert sorted(os.listdir(tmp_path)) == ["file"]


async def test_file_write_to_a_device_writes_in_place() -> None:
    async with api_client(FileOps()) as client:
        assert await one(client, rq.FileWrite("/dev/null", b"discarded")) == OK
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


async def test_interrupted_write_leaves_the_target_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure after the temp file is written (the rename) and one in the middle of
    writing it: the target keeps its old contents and no temp file remains."""
    target = tmp_path / "precious"
    target.write_bytes(b"original contents")
    real_replace = os.replace

    def failing_replace(src: str, dst: str) -> None:
        if ".distant-" in os.fspath(src):
            raise OSError(errno.EIO, os.strerror(errno.EIO), src, None, dst)
        real_replace(src, dst)

    real_write_all = fs_io.write_all

    def failing_write_all(fd: int, data: bytes) -> None:
        real_write_all(fd, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    async with api_client(FileOps()) as client:
        monkeypatch.setattr(os, "replace", failing_replace)
        reply = await one(client, rq.FileWrite(str(target), b"new contents that never land"))
        monkeypatch.undo()
        assert reply == Error(ErrorKind.UNKNOWN, f"Input/output error: {target}")
        assert target.read_bytes() == b"original contents"
        assert temp_leftovers(str(tmp_path)) == []

        monkeypatch.setattr(fs_io, "write_all", failing_write_all)
        reply = await one(client, rq.FileWriteText(str(target), "half of this is written"))
        monkeypatch.undo()
        assert reply == Error(ErrorKind.UNKNOWN, f"No space left on device: {target}")
        assert target.read_bytes() == b"original contents"
        assert temp_leftovers(str(tmp_path)) == []


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs (needs the right to mount)."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


async def test_write_on_a_full_filesystem_keeps_the_old_file(small_tmpfs: Path) -> None:
    """A real ENOSPC: a 1 MiB tmpfs cannot take a 4 MiB write."""
    target = small_tmpfs / "f"
    target.write_bytes(b"old" * 1000)
    async with api_client(FileOps()) as client:
        reply = await one(client, rq.FileWrite(str(target), os.urandom(4 << 20)))
    assert isinstance(reply, Error) and str(target) in reply.description
    assert "No space left on device" in reply.description
    assert target.read_bytes() == b"old" * 1000
    assert temp_leftovers(str(small_tmpfs)) == []


async def test_concurrent_writes_never_mix(tmp_path: Path) -> None:
    target = tmp_path / "f"
    blobs = [bytes([i]) * (256 * 1024) for i in range(12)]
    async with api_client(FileOps()) as client:
        reply = await client.request(
            Msg.batch([rq.FileWrite(str(target), b) for b in blobs]), timeout=30
        )
        assert reply.payload.items == (OK,) * len(blobs)
    assert target.read_bytes() in blobs
    assert temp_leftovers(str(tmp_path)) == []


async def test_dir_not_writable_but_file_is_writes_in_place() -> None:
    """Like upstream's plain write: the directory takes no temp file, the file is ours."""
    with shared_dir() as d:
        target = put(f"{d}/shared", b"old", 0o666)
        async with api_client(FileOps()) as client:
            with as_nobody():
                reply = await one(client, rq.FileWrite(target, b"new"))
        assert reply == OK
        assert get(target) == b"new"
        assert os.stat(target).st_uid == 0


# -- appends -------------------------------------------------------------------------------


async def test_file_append(tmp_path: Path) -> None:
    target = tmp_path / "log"
    async with api_client(FileOps()) as client:
        assert await one(client, rq.FileAppend(str(target), b"one\n")) == OK  # created
        assert await one(client, rq.FileAppendText(str(target), "two ✓\n")) == OK
        assert await one(client, rq.FileAppend(str(target), b"three\n")) == OK
        missing = tmp_path / "no" / "log"
        assert_error(
            await one(client, rq.FileAppend(str(missing), b"x")), ErrorKind.NOT_FOUND, missing
        )
        assert_error(
            await one(client, rq.FileAppendText(str(missing), "x")), ErrorKind.NOT_FOUND, missing
        )
    assert target.read_text(encoding="utf-8") == "one\ntwo ✓\nthree\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~current_umask()
    assert not (tmp_path / "no").exists()


# -- dir_create ----------------------------------------------------------------------------


async def test_dir_create(tmp_path: Path) -> None:
    async with api_client(FileOps()) as client:
        assert await one(client, rq.DirCreate(str(tmp_path / "a"))) == OK
        assert (tmp_path / "a").is_dir()
        nested = tmp_path / "b" / "c" / "d"
        assert_error(await one(client, rq.DirCreate(str(nested))), ErrorKind.NOT_FOUND, nested)
        assert not (tmp_path / "b").exists()
        assert await one(client, rq.DirCreate(str(nested), all=True)) == OK
        assert nested.is_dir()
        assert await one(client, rq.DirCreate(str(nested), all=True)) == OK  # mkdir -p
        reply = await one(client, rq.DirCreate(str(tmp_path / "a")))
        assert reply == Error(ErrorKind.ALREADY_EXISTS, f"File exists: {tmp_path / 'a'}")
        (tmp_path / "file").write_bytes(b"")
        reply = await one(client, rq.DirCreate(str(tmp_path / "file"), all=True))
        assert_error(reply, ErrorKind.ALREADY_EXISTS, tmp_path / "file")
        with shared_dir() as d, as_nobody():
            reply = await one(client, rq.DirCreate(f"{d}/x"))
            reply_all = await one(client, rq.DirCreate(f"{d}/x/y", all=True))
        assert_error(reply, ErrorKind.PERMISSION_DENIED, f"{d}/x")
        assert_error(reply_all, ErrorKind.PERMISSION_DENIED, f"{d}/x")


# -- remove --------------------------------------------------------------------------------


async def test_remove(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"x")
    (tmp_path / "empty").mkdir()
    tree = tmp_path / "tree"
    (tree / "sub" / "deeper").mkdir(parents=True)
    (tree / "sub" / "deeper" / "f").write_bytes(b"x")
    (tree / "g").write_bytes(b"x")
    async with api_client(FileOps()) as client:
        assert await one(client, rq.Remove(str(tmp_path / "file"))) == OK
        assert await one(client, rq.Remove(str(tmp_path / "empty"))) == OK
        reply = await one(client, rq.Remove(str(tree)))
        assert reply == Error(ErrorKind.UNKNOWN, f"Directory not empty: {tree}")
        assert (tree / "g").exists()
        assert await one(client, rq.Remove(str(tree), force=True)) == OK
        missing = tmp_path / "missing"
        reply = await one(client, rq.Remove(str(missing), force=True))
        assert reply == Error(ErrorKind.NOT_FOUND, f"No such file or directory: {missing}")
    assert os.listdir(tmp_path) == []


async def test_remove_a_symlink_removes_the_link_only(tmp_path: Path) -> None:
    target_dir = tmp_path / "dir"
    target_dir.mkdir()
    (target_dir / "keep").write_bytes(b"x")
    (tmp_path / "dirlink").symlink_to(target_dir)
    (tmp_path / "broken").symlink_to(tmp_path / "nowhere")
    async with api_client(FileOps()) as client:
        assert await one(client, rq.Remove(str(tmp_path / "dirlink"), force=True)) == OK
        assert await one(client, rq.Remove(str(tmp_path / "broken"))) == OK
    assert sorted(os.listdir(tmp_path)) == ["dir"]
    assert (target_dir / "keep").exists()


async def test_remove_permission_denied() -> None:
    with shared_dir() as d:
        put(f"{d}/f", b"x")
        os.mkdir(f"{d}/sub")
        put(f"{d}/sub/g", b"x", 0o644)
        os.chown(f"{d}/sub", NOBODY, NOBODY)  # nobody's dir, root's file inside
        async with api_client(FileOps()) as client:
            with as_nobody():
                reply = await one(client, rq.Remove(f"{d}/f"))
                reply_tree = await one(client, rq.Remove(d, force=True))
        assert_error(reply, ErrorKind.PERMISSION_DENIED, f"{d}/f")
        assert isinstance(reply_tree, Error) and reply_tree.kind == ErrorKind.PERMISSION_DENIED
        assert exists(f"{d}/f")


# -- copy ----------------------------------------------------------------------------------


async def test_copy_file_keeps_mode(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.write_bytes(b"contents" * 1000)
    src.chmod(0o751)
    (tmp_path / "existing").write_bytes(b"will be overwritten, and it is longer" * 1000)
    (tmp_path / "link").symlink_to(src)
    async with api_client(FileOps()) as client:
        assert await one(client, rq.Copy(str(src), str(tmp_path / "dst"))) == OK
        assert await one(client, rq.Copy(str(src), str(tmp_path / "existing"))) == OK
        assert await one(client, rq.Copy(str(tmp_path / "link"), str(tmp_path / "from-link"))) == OK
    for name in ("dst", "existing", "from-link"):
        copied = tmp_path / name
        assert not copied.is_symlink()
        assert copied.read_bytes() == b"contents" * 1000
        assert stat.S_IMODE(copied.stat().st_mode) == 0o751


async def test_copy_tree(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "a" / "b").mkdir(parents=True)
    (src / "empty").mkdir()
    (src / "top").write_bytes(b"top")
    (src / "a" / "b" / "deep").write_bytes(b"deep")
    (src / "a" / "b" / "deep").chmod(0o600)
    (src / "a").chmod(0o700)
    (tmp_path / "outside").write_bytes(b"outside")
    (src / "link").symlink_to(tmp_path / "outside")
    async with api_client(FileOps()) as client:
        dst = tmp_path / "new" / "dst"
        assert await one(client, rq.Copy(str(src), str(dst))) == OK
    assert (dst / "top").read_bytes() == b"top"
    assert (dst / "a" / "b" / "deep").read_bytes() == b"deep"
    assert stat.S_IMODE((dst / "a" / "b" / "deep").stat().st_mode) == 0o600
    assert stat.S_IMODE((dst / "a").stat().st_mode) == 0o700
    assert (dst / "empty").is_dir()
    assert not (dst / "link").is_symlink()  # upstream copies what a link points to
    assert (dst / "link").read_bytes() == b"outside"


async def test_copy_errors(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "inner").mkdir(parents=True)
    (tmp_path / "f").write_bytes(b"x")
    async with api_client(FileOps()) as client:
        missing = tmp_path / "missing"
        reply = await one(client, rq.Copy(str(missing), str(tmp_path / "dst")))
        assert reply == Error(ErrorKind.NOT_FOUND, f"No such file or directory: {missing}")
        reply = await one(client, rq.Copy(str(src), str(src / "inner" / "copy")))
        assert_error(reply, ErrorKind.INVALID_INPUT, src)
        reply = await one(client, rq.Copy(str(tmp_path / "f"), str(tmp_path / "f")))
        assert_error(reply, ErrorKind.INVALID_INPUT, tmp_path / "f")
        reply = await one(client, rq.Copy(str(tmp_path / "f"), str(src)))  # onto a directory
        assert isinstance(reply, Error) and str(src) in reply.description
        into_missing = tmp_path / "no" / "dst"
        reply = await one(client, rq.Copy(str(tmp_path / "f"), str(into_missing)))
        assert_error(reply, ErrorKind.NOT_FOUND, into_missing)
    assert not (tmp_path / "dst").exists()
    assert not (src / "inner" / "copy").exists()
    with shared_dir() as d:
        put(f"{d}/secret", b"x", 0o600)
        async with api_client(FileOps()) as client:
            with as_nobody():
                reply = await one(client, rq.Copy(f"{d}/secret", "/tmp/never-created-by-test"))
        assert_error(reply, ErrorKind.PERMISSION_DENIED, f"{d}/secret")


# -- rename --------------------------------------------------------------------------------


async def test_rename(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"a")
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "inside").write_bytes(b"i")
    (tmp_path / "old").write_bytes(b"old")
    async with api_client(FileOps()) as client:
        assert await one(client, rq.Rename(str(tmp_path / "a"), str(tmp_path / "b"))) == OK
        assert await one(client, rq.Rename(str(tmp_path / "dir"), str(tmp_path / "d2"))) == OK
        assert await one(client, rq.Rename(str(tmp_path / "b"), str(tmp_path / "old"))) == OK
        missing, dst = tmp_path / "missing", tmp_path / "x"
        reply = await one(client, rq.Rename(str(missing), str(dst)))
        assert reply == Error(ErrorKind.NOT_FOUND, f"No such file or directory: {missing} -> {dst}")
        with shared_dir() as d:
            put(f"{d}/f", b"x")
            with as_nobody():
                reply = await one(client, rq.Rename(f"{d}/f", f"{d}/g"))
            assert_error(reply, ErrorKind.PERMISSION_DENIED, f"{d}/f")
    assert (tmp_path / "old").read_bytes() == b"a"
    assert (tmp_path / "d2" / "inside").read_bytes() == b"i"
    assert sorted(os.listdir(tmp_path)) == ["d2", "old"]


# -- exists --------------------------------------------------------------------------------


async def test_exists(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"")
    (tmp_path / "link").symlink_to(tmp_path / "f")
    (tmp_path / "broken").symlink_to(tmp_path / "nowhere")
    async with api_client(FileOps()) as client:

        async def exists(path: Path | str) -> object:
            return await one(client, rq.Exists(str(path)))

        assert await exists(tmp_path / "f") == rs.Exists(True)
        assert await exists(tmp_path) == rs.Exists(True)
        assert await exists(tmp_path / "link") == rs.Exists(True)
        assert await exists(tmp_path / "missing") == rs.Exists(False)
        assert await exists(tmp_path / "broken") == rs.Exists(False)
        assert await exists(tmp_path / "f" / "under-a-file") == rs.Exists(False)
        with shared_dir() as d:
            os.mkdir(f"{d}/closed", 0o700)
            with as_nobody():
                reply = await exists(f"{d}/closed/x")
            assert_error(reply, ErrorKind.PERMISSION_DENIED, f"{d}/closed/x")


# -- concurrency ---------------------------------------------------------------------------


async def test_a_blocked_operation_does_not_block_others(tmp_path: Path) -> None:
    """Reading a FIFO blocks (in its worker thread) until a writer comes; meanwhile the
    same connection keeps answering."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    result: list[object] = []

    def feed() -> None:
        with open(fifo, "wb") as w:
            w.write(b"finally")

    async with api_client(FileOps()) as client, anyio.create_task_group() as tg:

        async def blocked_read() -> None:
            result.append(await one(client, rq.FileRead(str(fifo)), timeout=20))

        tg.start_soon(blocked_read)
        try:
            await anyio.sleep(0.2)
            with anyio.fail_after(5):
                for _ in range(5):
                    assert await one(client, rq.Exists(str(tmp_path))) == rs.Exists(True)
            assert result == []
        finally:
            await anyio.to_thread.run_sync(feed)  # never leave the reader blocked
        with anyio.fail_after(10):
            while not result:
                await anyio.sleep(0.01)
        assert result == [rs.Blob(b"finally")]


async def test_closing_the_connection_does_not_wait_for_a_stuck_operation(
    tmp_path: Path,
) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    writer: int | None = None
    try:
        with anyio.fail_after(10):
            async with api_client(FileOps()) as client:
                await client.fire(Msg.single(rq.FileRead(str(fifo))))
                while writer is None:  # wait until the server is the FIFO's reader
                    try:
                        writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
                    except OSError as exc:
                        assert exc.errno == errno.ENXIO
                        await anyio.sleep(0.01)
                await anyio.sleep(0.1)  # the server's read() now blocks: no data, no EOF
            # leaving the block closed the connection and the server; nothing hung
    finally:
        if writer is not None:
            os.close(writer)  # EOF for the abandoned read, which then ends


def test_capabilities() -> None:
    assert FileOps().capabilities() == FILE_CAPABILITIES == ("fs_io", "fs_perm", "fs_range")


async def test_a_reply_too_large_for_a_frame_is_an_error_not_a_broken_link(
    tmp_path: Path,
) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(b"\x00" * (17 * 1024 * 1024))
    async with api_client(FileOps()) as client:
        reply = await one(client, rq.FileRead(str(big)))
        assert isinstance(reply, Error) and reply.kind == ErrorKind.OTHER
        assert "frame limit" in reply.description and "file_read_range" in reply.description
        assert await one(client, rq.Exists(str(big))) == rs.Exists(True)  # the link lives
