# ruff: noqa: ASYNC240 - test set-up and checks on local files are instant
"""SshApi through the real dispatcher (``serve_api``) over a real SSH connection to a private
sshd on loopback: every request type, for every backend in :data:`OPENERS`.

The sshd logs in as the current user on this machine, so the remote paths are local
temporary directories and the tests check the effects with local calls.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import socket
import stat
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
from tests.support.sshd import PrivateSshd

from distant_codec import (
    MSG_EXTENDED_REQUEST,
    MSG_EXTENDED_RESPONSE,
    ChangeKind,
    Error,
    ErrorKind,
    FileType,
    Msg,
    Permissions,
    PtySize,
    SetPermissionsOptions,
)
from distant_codec import common as c
from distant_codec import extensions as ex
from distant_codec import requests as rq
from distant_codec import responses as rs
from distant_net import Client, RequestTimeout
from distant_plugins.in_process import serve_api
from distant_plugins.ssh.api import SshApi
from distant_plugins.ssh.api_files import PartsReader
from distant_plugins.ssh.asyncssh_backend import open_asyncssh_session
from distant_plugins.ssh.bridge import asyncio_loop
from distant_plugins.ssh.openssh_backend import open_openssh_session
from distant_plugins.ssh.session import SessionOpener, SshSession, SshTarget

from ._auth import NoPrompts as Answers

pytestmark = pytest.mark.anyio

OPENERS: dict[str, SessionOpener] = {
    "asyncssh": open_asyncssh_session,
    "openssh": open_openssh_session,
}
"""The backends under test: the same SshApi must answer alike over both."""


@pytest.fixture
def anyio_backend() -> str:
    return "trio"


def target_of(sshd: PrivateSshd) -> SshTarget:
    return SshTarget(
        host=sshd.host,
        port=sshd.port,
        user=sshd.user,
        identity_files=(str(sshd.client_key),),
        identities_only=True,
        user_known_hosts_files=(str(sshd.known_hosts),),
    )


@dataclass
class Remote:
    client: Client[Any, Any]
    session: SshSession
    api: SshApi
    dir: Path

    async def one(self, request: Any, timeout: float = 15) -> Any:
        reply = await self.client.request(Msg.single(request), timeout=timeout)
        return reply.payload.value

    def path(self, *parts: str) -> str:
        return str(self.dir.joinpath(*parts))


@pytest.fixture(params=list(OPENERS))
async def remote(
    request: pytest.FixtureRequest, private_sshd: PrivateSshd, tmp_path: Path
) -> AsyncIterator[Remote]:
    opener = OPENERS[request.param]
    async with asyncio_loop():
        session = await opener(target_of(private_sshd), Answers())
        try:
            api = SshApi(session)
            async with (
                serve_api(api) as link,
                Client(link, MSG_EXTENDED_REQUEST, MSG_EXTENDED_RESPONSE) as client,
            ):
                yield Remote(client, session, api, tmp_path)
        finally:
            await session.aclose()


def assert_error(reply: Any, kind: ErrorKind, *fragments: str) -> None:
    assert isinstance(reply, Error), reply
    assert reply.kind == kind, reply
    for fragment in fragments:
        assert fragment in reply.description, reply


# -- files ----------------------------------------------------------------------------------


async def test_file_read_write_append_text_and_bytes(remote: Remote) -> None:
    path = remote.path("a.txt")
    assert await remote.one(rq.FileWriteText(path, "héllo\n")) == rs.Ok()
    assert Path(path).read_text() == "héllo\n"
    assert await remote.one(rq.FileAppendText(path, "more\n")) == rs.Ok()
    assert await remote.one(rq.FileAppend(path, b"\x00\xff")) == rs.Ok()
    assert await remote.one(rq.FileRead(path)) == rs.Blob(b"h\xc3\xa9llo\nmore\n\x00\xff")
    reply = await remote.one(rq.FileReadText(path))
    assert_error(reply, ErrorKind.INVALID_DATA, path)
    assert await remote.one(rq.FileWrite(path, b"bytes")) == rs.Ok()
    assert await remote.one(rq.FileReadText(path)) == rs.Text("bytes")
    new = remote.path("new-by-append")
    assert await remote.one(rq.FileAppendText(new, "x")) == rs.Ok()
    assert Path(new).read_text() == "x"


async def test_write_is_atomic_keeps_mode_and_writes_through_links(remote: Remote) -> None:
    path = Path(remote.path("script.sh"))
    path.write_text("old")
    path.chmod(0o751)
    inode = path.stat().st_ino
    assert await remote.one(rq.FileWriteText(str(path), "new")) == rs.Ok()
    assert path.read_text() == "new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o751
    assert path.stat().st_ino != inode  # replaced by rename, not truncated in place
    assert sorted(p.name for p in path.parent.iterdir()) == ["script.sh"]  # no temp left
    link = Path(remote.path("link"))
    link.symlink_to(path)
    assert await remote.one(rq.FileWriteText(str(link), "via link")) == rs.Ok()
    assert link.is_symlink() and path.read_text() == "via link"


async def test_file_errors(remote: Remote) -> None:
    missing = remote.path("missing")
    assert_error(await remote.one(rq.FileRead(missing)), ErrorKind.NOT_FOUND, missing)
    assert_error(await remote.one(rq.FileRead(str(remote.dir))), ErrorKind.UNKNOWN, "directory")
    reply = await remote.one(rq.FileWriteText(str(remote.dir), "x"))
    assert_error(reply, ErrorKind.UNKNOWN, "directory")
    reply = await remote.one(rq.FileWriteText(remote.path("no", "such", "dir"), "x"))
    assert_error(reply, ErrorKind.NOT_FOUND)


async def test_dir_read_depths_and_flags(remote: Remote) -> None:
    root = remote.dir
    (root / "b").mkdir()
    (root / "b" / "inner.txt").write_text("x")
    (root / "b" / "deeper").mkdir()
    (root / "b" / "deeper" / "leaf").write_text("x")
    (root / "a.txt").write_text("x")
    (root / "link").symlink_to(root / "a.txt")
    reply = await remote.one(rq.DirRead(str(root)))
    assert [(e.path, e.file_type, e.depth) for e in reply.entries] == [
        ("a.txt", FileType.FILE, 1),
        ("b", FileType.DIR, 1),
        ("link", FileType.SYMLINK, 1),
    ]
    reply = await remote.one(rq.DirRead(str(root), depth=0, include_root=True))
    assert [(e.path, e.depth) for e in reply.entries] == [
        (os.path.realpath(root), 0),
        ("a.txt", 1),
        ("b", 1),
        ("b/deeper", 2),
        ("b/deeper/leaf", 3),
        ("b/inner.txt", 2),
        ("link", 1),
    ]
    reply = await remote.one(rq.DirRead(str(root), depth=1, absolute=True, canonicalize=True))
    real = os.path.realpath(root)
    assert [e.path for e in reply.entries] == [f"{real}/a.txt", f"{real}/b", f"{real}/a.txt"]
    (root / "broken").symlink_to(root / "nowhere")
    reply = await remote.one(rq.DirRead(str(root), canonicalize=True))
    assert "broken" not in [e.path for e in reply.entries]
    assert len(reply.errors) == 1 and reply.errors[0].kind == ErrorKind.NOT_FOUND
    assert_error(await remote.one(rq.DirRead(remote.path("nope"))), ErrorKind.NOT_FOUND)


async def test_dir_create_remove_rename_exists(remote: Remote) -> None:
    deep = remote.path("x", "y", "z")
    assert_error(await remote.one(rq.DirCreate(deep)), ErrorKind.NOT_FOUND)
    assert await remote.one(rq.DirCreate(deep, all=True)) == rs.Ok()
    assert await remote.one(rq.DirCreate(deep, all=True)) == rs.Ok()  # exists: fine with all
    assert_error(await remote.one(rq.DirCreate(deep)), ErrorKind.ALREADY_EXISTS)
    assert os.path.isdir(deep)
    Path(deep, "f").write_text("x")
    top = remote.path("x")
    assert await remote.one(rq.Exists(top)) == rs.Exists(True)
    assert await remote.one(rq.Exists(remote.path("nope"))) == rs.Exists(False)
    assert await remote.one(rq.Exists(remote.path("x", "y", "z", "f", "below"))) == rs.Exists(False)
    assert_error(await remote.one(rq.Remove(top)), ErrorKind.UNKNOWN, "not empty")
    moved = remote.path("moved")
    assert await remote.one(rq.Rename(top, moved)) == rs.Ok()
    assert not os.path.exists(top) and os.path.isdir(moved)
    assert await remote.one(rq.Remove(moved, force=True)) == rs.Ok()
    assert not os.path.exists(moved)
    file = remote.path("file")
    Path(file).write_text("x")
    target = remote.path("target")
    Path(target).write_text("old")
    assert await remote.one(rq.Rename(file, target)) == rs.Ok()  # replaces, as rename(2)
    assert Path(target).read_text() == "x"
    assert await remote.one(rq.Remove(target)) == rs.Ok()
    assert_error(await remote.one(rq.Remove(target)), ErrorKind.NOT_FOUND, target)
    empty = remote.path("empty")
    os.mkdir(empty)
    assert await remote.one(rq.Remove(empty)) == rs.Ok()


async def test_copy_file_and_tree(remote: Remote) -> None:
    src = Path(remote.path("src"))
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "f.txt").write_text("deep")
    (src / "x.sh").write_text("run")
    (src / "x.sh").chmod(0o750)
    dst = remote.path("dst")
    assert await remote.one(rq.Copy(str(src), dst)) == rs.Ok()
    assert Path(dst, "sub", "f.txt").read_text() == "deep"
    assert stat.S_IMODE(os.stat(Path(dst, "x.sh")).st_mode) == 0o750
    one = remote.path("one.sh")
    assert await remote.one(rq.Copy(str(src / "x.sh"), one)) == rs.Ok()
    assert Path(one).read_text() == "run"
    assert stat.S_IMODE(os.stat(one).st_mode) == 0o750
    reply = await remote.one(rq.Copy(str(src), str(src / "sub" / "into")))
    assert_error(reply, ErrorKind.INVALID_INPUT, "into itself")
    assert_error(await remote.one(rq.Copy(remote.path("nope"), dst)), ErrorKind.NOT_FOUND)


async def test_metadata(remote: Remote) -> None:
    path = Path(remote.path("m.txt"))
    path.write_bytes(b"12345")
    path.chmod(0o444)
    link = Path(remote.path("m.link"))
    link.symlink_to(path)
    st = path.stat()
    meta = await remote.one(rq.Metadata(str(path)))
    assert meta.file_type == FileType.FILE and meta.len == 5 and meta.readonly
    assert meta.modified == int(st.st_mtime) and meta.accessed == int(st.st_atime)
    assert meta.unix.owner_read and not meta.unix.owner_write
    assert meta.canonicalized_path is None
    meta = await remote.one(rq.Metadata(str(link), canonicalize=True))
    assert meta.file_type == FileType.SYMLINK
    assert meta.canonicalized_path == os.path.realpath(path)
    meta = await remote.one(rq.Metadata(str(link), resolve_file_type=True))
    assert meta.file_type == FileType.FILE
    meta = await remote.one(rq.Metadata(str(remote.dir)))
    assert meta.file_type == FileType.DIR
    assert_error(await remote.one(rq.Metadata(remote.path("nope"))), ErrorKind.NOT_FOUND)


async def test_set_permissions(remote: Remote) -> None:
    tree = Path(remote.path("tree"))
    (tree / "sub").mkdir(parents=True)
    (tree / "f").write_text("x")
    (tree / "sub" / "g").write_text("x")
    for p in (tree / "f", tree / "sub" / "g"):
        p.chmod(0o644)
    assert (
        await remote.one(rq.SetPermissions(str(tree / "f"), Permissions.from_mode(0o600)))
        == rs.Ok()
    )
    assert stat.S_IMODE((tree / "f").stat().st_mode) == 0o600
    readonly = Permissions(owner_write=False, group_write=False, other_write=False)
    options = SetPermissionsOptions(recursive=True)
    assert await remote.one(rq.SetPermissions(str(tree), readonly, options)) == rs.Ok()
    assert stat.S_IMODE((tree / "f").stat().st_mode) == 0o400
    assert stat.S_IMODE((tree / "sub" / "g").stat().st_mode) == 0o444
    assert stat.S_IMODE((tree / "sub").stat().st_mode) & 0o222 == 0
    (tree / "sub").chmod(0o755)
    tree.chmod(0o755)
    reply = await remote.one(rq.SetPermissions(remote.path("nope"), readonly))
    assert_error(reply, ErrorKind.NOT_FOUND)


# -- fs_range -------------------------------------------------------------------------------


async def test_ranges_and_checksum(remote: Remote) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    path = remote.path("big.bin")
    Path(path).write_bytes(data)
    assert isinstance(remote.session, PartsReader)  # blocks go unjoined into the reply
    chunk = await remote.one(ex.FileReadRange(path, 0, 2 * 1024 * 1024, checksum=True))
    assert chunk.data == data[: 2 * 1024 * 1024] and not chunk.eof
    assert chunk.sha256 == hashlib.sha256(chunk.data).hexdigest()
    batch = [ex.FileReadRange(path, 0, 300_000), ex.FileReadRange(path, 3 * 1024 * 1024, 99)]
    reply = await remote.client.request(Msg.batch(batch), timeout=15)
    assert [(c.data, c.eof) for c in reply.payload.items] == [
        (data[:300_000], False),
        (data[3 * 1024 * 1024 :], True),
    ]
    chunk = await remote.one(ex.FileReadRange(path, 2 * 1024 * 1024, 2 * 1024 * 1024))
    assert chunk.data == data[2 * 1024 * 1024 :] and chunk.eof
    exact = await remote.one(ex.FileReadRange(path, len(data) - 10, 10))
    assert exact.data == data[-10:] and exact.eof
    out = remote.path("out.bin")
    half = len(data) // 2
    assert await remote.one(ex.FileWriteRange(out, 0, data[:half], truncate=True)) == rs.Ok()
    reply = await remote.one(
        ex.FileWriteRange(out, half, data[half:], sha256=hashlib.sha256(data[half:]).hexdigest())
    )
    assert reply == rs.Ok()
    assert Path(out).read_bytes() == data
    bad = await remote.one(ex.FileWriteRange(out, 0, b"zz", sha256="0" * 64))
    assert_error(bad, ErrorKind.INVALID_DATA, "sha256")
    assert Path(out).read_bytes() == data
    assert await remote.one(ex.FileWriteRange(out, 4, b"", truncate=True)) == rs.Ok()
    assert Path(out).read_bytes() == data[:4]
    checksum = await remote.one(ex.FileChecksum(path))
    assert checksum == ex.Checksum(hashlib.sha256(data).hexdigest(), len(data))
    assert_error(await remote.one(ex.FileChecksum(remote.path("nope"))), ErrorKind.NOT_FOUND)
    reply = await remote.one(ex.FileReadRange(str(remote.dir), 0, 10))
    assert_error(reply, ErrorKind.UNKNOWN, "directory")


async def test_a_range_read_after_a_replace_sees_the_new_file(remote: Remote) -> None:
    path = remote.path("r.bin")
    Path(path).write_bytes(b"a" * 100)
    assert (await remote.one(ex.FileReadRange(path, 0, 10))).data == b"a" * 10
    assert await remote.one(rq.FileWrite(path, b"b" * 100)) == rs.Ok()  # rename over it
    assert (await remote.one(ex.FileReadRange(path, 10, 10))).data == b"b" * 10


# -- processes ------------------------------------------------------------------------------


async def collect(mailbox: Any, id: int) -> tuple[bytes, bytes, rs.ProcDone]:
    out, err = bytearray(), bytearray()
    while True:
        msg = (await mailbox.next(15)).payload.value
        if isinstance(msg, rs.ProcDone):
            assert msg.id == id
            return bytes(out), bytes(err), msg
        assert isinstance(msg, rs.ProcStdout | rs.ProcStderr), msg
        assert msg.id == id and 0 < len(msg.data) <= 64 * 1024
        (out if isinstance(msg, rs.ProcStdout) else err).extend(msg.data)


async def test_proc_output_exit_env_and_dir(remote: Remote) -> None:
    cmd = "sh -c 'echo out; echo err >&2; echo \"$DISTANT_X\"; pwd; exit 3'"
    req = rq.ProcSpawn(cmd, environment={"DISTANT_X": "a b's"}, current_dir=str(remote.dir))
    async with remote.client.stream(Msg.single(req)) as box:
        first = (await box.next(15)).payload.value
        assert isinstance(first, rs.ProcSpawned)
        out, err, done = await collect(box, first.id)
    assert out.decode().splitlines() == ["out", "a b's", str(remote.dir)]
    assert err == b"err\n"
    assert done == rs.ProcDone(first.id, False, 3)


async def test_proc_stdin_kill_and_errors(remote: Remote) -> None:
    async with remote.client.stream(Msg.single(rq.ProcSpawn("cat"))) as box:
        id = (await box.next(15)).payload.value.id
        assert await remote.one(rq.ProcStdin(id, b"ping\n")) == rs.Ok()
        assert await remote.one(rq.ProcStdin(id, b"")) == rs.Ok()  # end of input
        out, _err, done = await collect(box, id)
        assert out == b"ping\n" and done == rs.ProcDone(id, True, 0)
    async with remote.client.stream(Msg.single(rq.ProcSpawn("sleep 60"))) as box:
        id = (await box.next(15)).payload.value.id
        started = time.monotonic()
        assert await remote.one(rq.ProcKill(id)) == rs.Ok()
        _out, _err, done = await collect(box, id)
        assert done.id == id and not done.success and done.code is None
        assert time.monotonic() - started < 5
    reply = await remote.one(rq.ProcSpawn("true", current_dir=remote.path("nope")))
    assert_error(reply, ErrorKind.NOT_FOUND)
    assert_error(await remote.one(rq.ProcKill(12345)), ErrorKind.NOT_FOUND, "12345")
    assert_error(await remote.one(rq.ProcStdin(12345, b"x")), ErrorKind.NOT_FOUND)
    # a missing program is a failed spawn, as on the host
    reply = await remote.one(rq.ProcSpawn("no-such-program-xyz --flag"))
    assert_error(reply, ErrorKind.NOT_FOUND, "no-such-program-xyz")
    reply = await remote.one(rq.ProcSpawn("./no-such-script", current_dir=str(remote.dir)))
    assert_error(reply, ErrorKind.NOT_FOUND, "./no-such-script")
    # only a plain first word is checked: else the shell's own "not found", status 127
    async with remote.client.stream(Msg.single(rq.ProcSpawn("'no-such-program-xyz'"))) as box:
        id = (await box.next(15)).payload.value.id
        _out, err, done = await collect(box, id)
        assert done.code == 127 and b"no-such-program-xyz" in err


async def test_proc_exit_statuses_and_death_by_signal(remote: Remote) -> None:
    """A death by signal has no code (both backends), while every exit status, 255 and
    those above 128 included, comes through as it is."""
    (remote.dir / "run.sh").write_text("echo ran\n")
    (remote.dir / "run.sh").chmod(0o755)
    cases = {
        "sh -c 'kill -9 $$'": rs.ProcDone(0, False, None),
        "sh -c 'echo before; kill -TERM $$'": rs.ProcDone(0, False, None),
        "sh -c 'exit 255'": rs.ProcDone(0, False, 255),
        "sh -c 'exit 137'": rs.ProcDone(0, False, 137),
        "true": rs.ProcDone(0, True, 0),  # a builtin (and a program) passes the check
        "./run.sh": rs.ProcDone(0, True, 0),
    }
    for cmd, want in cases.items():
        req = rq.ProcSpawn(cmd, current_dir=str(remote.dir))
        async with remote.client.stream(Msg.single(req)) as box:
            id = (await box.next(15)).payload.value.id
            out, _err, done = await collect(box, id)
        assert (done.success, done.code) == (want.success, want.code), cmd
        if "before" in cmd or "run" in cmd:
            assert out in (b"before\n", b"ran\n"), cmd


async def test_proc_large_output_arrives_whole_before_done(remote: Remote) -> None:
    req = rq.ProcSpawn("head -c 3000000 /dev/zero")
    async with remote.client.stream(Msg.single(req)) as box:
        id = (await box.next(15)).payload.value.id
        out, _err, done = await collect(box, id)
    assert len(out) == 3_000_000 and done.success


async def test_proc_pty_resize_and_input(remote: Remote) -> None:
    req = rq.ProcSpawn("sh", pty=PtySize(24, 80))
    async with remote.client.stream(Msg.single(req)) as box:
        id = (await box.next(15)).payload.value.id
        assert await remote.one(rq.ProcResizePty(id, PtySize(30, 100))) == rs.Ok()
        await remote.one(rq.ProcStdin(id, b"stty size; echo $TERM; exit 7\n"))
        out, err, done = await collect(box, id)
    assert b"30 100" in out and b"xterm-256color" in out
    assert err == b"" and done.code == 7
    async with remote.client.stream(Msg.single(rq.ProcSpawn("sleep 5"))) as box:
        id = (await box.next(15)).payload.value.id
        reply = await remote.one(rq.ProcResizePty(id, PtySize(10, 10)))
        assert_error(reply, ErrorKind.UNSUPPORTED)
        await remote.one(rq.ProcKill(id))
        await collect(box, id)


async def test_closing_the_connection_kills_its_processes(
    private_sshd: PrivateSshd, tmp_path: Path
) -> None:
    marker = tmp_path / "pid"
    async with asyncio_loop():
        session = await open_asyncssh_session(target_of(private_sshd), Answers())
        try:
            async with (
                serve_api(SshApi(session)) as link,
                Client(link, MSG_EXTENDED_REQUEST, MSG_EXTENDED_RESPONSE) as client,
            ):
                req = rq.ProcSpawn(f"sh -c 'echo $$ > {marker}; exec sleep 60'")
                async with client.stream(Msg.single(req)) as box:
                    assert isinstance((await box.next(15)).payload.value, rs.ProcSpawned)
                    with anyio.fail_after(10):
                        while not marker.exists() or not marker.read_text().strip():
                            await anyio.sleep(0.02)
            pid = int(marker.read_text())
            with anyio.fail_after(10):
                while os.path.exists(f"/proc/{pid}"):
                    await anyio.sleep(0.05)
        finally:
            await session.aclose()


# -- search, watch --------------------------------------------------------------------------


async def test_search_paths_and_contents(remote: Remote) -> None:
    (remote.dir / "sub").mkdir()
    (remote.dir / "sub" / "needle.txt").write_text("hay\nneedle here\n")
    (remote.dir / "other.txt").write_text("nothing\n")
    query = c.SearchQuery(c.SearchQueryTarget.CONTENTS, c.Regex("needle"), (str(remote.dir),))
    async with remote.client.stream(Msg.single(rq.Search(query))) as box:
        started = (await box.next(15)).payload.value
        assert isinstance(started, rs.SearchStarted)
        matches: list[Any] = []
        while True:
            msg = (await box.next(15)).payload.value
            if isinstance(msg, rs.SearchDone):
                break
            assert isinstance(msg, rs.SearchResults), msg
            matches.extend(msg.matches)
    assert [(m.path, m.line_number) for m in matches] == [
        (str(remote.dir / "sub" / "needle.txt"), 2)
    ]
    query = c.SearchQuery(c.SearchQueryTarget.PATH, c.EndsWith("needle.txt"), (str(remote.dir),))
    async with remote.client.stream(Msg.single(rq.Search(query))) as box:
        assert isinstance((await box.next(15)).payload.value, rs.SearchStarted)
        paths: list[str] = []
        while True:
            msg = (await box.next(15)).payload.value
            if isinstance(msg, rs.SearchDone):
                break
            paths.extend(m.path for m in msg.matches)
    assert paths == [str(remote.dir / "sub" / "needle.txt")]
    reply = await remote.one(rq.CancelSearch(99))
    assert_error(reply, ErrorKind.NOT_FOUND)


async def test_watch_reports_changes_and_unwatch(remote: Remote) -> None:
    await remote.one(rq.Version())
    if not remote.api.has_inotifywait:
        reply = await remote.one(rq.Watch(str(remote.dir)))
        assert_error(reply, ErrorKind.UNSUPPORTED, "inotifywait")
        return
    req = rq.Watch(str(remote.dir), only=(ChangeKind.CREATE, ChangeKind.DELETE))
    async with remote.client.stream(Msg.single(req)) as box:
        assert (await box.next(15)).payload.value == rs.Ok()
        (remote.dir / "new.txt").write_text("x")
        (remote.dir / "new.txt").unlink()
        seen = []
        while len(seen) < 2:
            change = (await box.next(10)).payload.value
            assert isinstance(change, c.Change), change
            seen.append((change.kind, change.path))
        real = os.path.realpath(remote.dir)
        assert seen == [
            (ChangeKind.CREATE, f"{real}/new.txt"),
            (ChangeKind.DELETE, f"{real}/new.txt"),
        ]
        assert await remote.one(rq.Unwatch(str(remote.dir))) == rs.Ok()
        (remote.dir / "after.txt").write_text("x")
        with pytest.raises(RequestTimeout):
            await box.next(0.5)
    assert_error(await remote.one(rq.Unwatch(str(remote.dir))), ErrorKind.NOT_FOUND)
    assert_error(await remote.one(rq.Watch(remote.path("nope"))), ErrorKind.NOT_FOUND)


async def test_watch_reports_the_hosts_kinds_debounced(remote: Remote) -> None:
    """create/modify/delete only, like the host: a rename is delete + create, a chmod is a
    modify, an atomic write's temporary file never shows, and a batch brings one change per
    path and kind in the host's order."""
    await remote.one(rq.Version())
    if not remote.api.has_inotifywait:
        pytest.skip("the remote host has no inotifywait")
    real = os.path.realpath(remote.dir)
    (remote.dir / "sub").mkdir()
    (remote.dir / "again.txt").write_text("old")

    async with remote.client.stream(Msg.single(rq.Watch(str(remote.dir), recursive=True))) as box:
        assert (await box.next(15)).payload.value == rs.Ok()

        async def batch() -> list[tuple[ChangeKind, str]]:
            """The changes until none came for a while (well past the debounce)."""
            seen: list[tuple[ChangeKind, str]] = []
            with contextlib.suppress(RequestTimeout):
                seen.append(await next_change(10))  # the first one may take a moment
                while True:
                    seen.append(await next_change(0.6))
            return seen

        async def next_change(timeout: float) -> tuple[ChangeKind, str]:
            change = (await box.next(timeout)).payload.value
            assert isinstance(change, c.Change), change
            return change.kind, change.path.removeprefix(real)

        new = remote.path("sub", "new.txt")
        assert await remote.one(rq.FileWriteText(new, "x")) == rs.Ok()  # temp file + rename
        assert await batch() == [(ChangeKind.CREATE, "/sub/new.txt")]
        assert await remote.one(rq.FileAppendText(new, "y")) == rs.Ok()
        assert await batch() == [(ChangeKind.MODIFY, "/sub/new.txt")]
        os.chmod(new, 0o600)
        assert await batch() == [(ChangeKind.MODIFY, "/sub/new.txt")]
        os.rename(new, remote.path("moved.txt"))
        assert await batch() == [  # by path
            (ChangeKind.CREATE, "/moved.txt"),
            (ChangeKind.DELETE, "/sub/new.txt"),
        ]
        (remote.dir / "again.txt").unlink()
        (remote.dir / "again.txt").write_text("new")
        (remote.dir / "gone.txt").write_text("brief")
        (remote.dir / "gone.txt").unlink()
        assert await batch() == [
            (ChangeKind.DELETE, "/again.txt"),
            (ChangeKind.CREATE, "/again.txt"),
            (ChangeKind.MODIFY, "/again.txt"),
            (ChangeKind.CREATE, "/gone.txt"),
            (ChangeKind.MODIFY, "/gone.txt"),
            (ChangeKind.DELETE, "/gone.txt"),
        ]
        assert await remote.one(rq.Unwatch(str(remote.dir))) == rs.Ok()


# -- tunnels --------------------------------------------------------------------------------


async def test_forward_tunnel(remote: Remote) -> None:
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)

    async def echo(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            async for data in stream:
                await stream.send(data.upper())

    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, echo)
        async with remote.client.stream(Msg.single(rq.TunnelOpen("127.0.0.1", port))) as box:
            opened = (await box.next(15)).payload.value
            assert isinstance(opened, rs.TunnelOpened)
            status = await remote.one(rq.Status())
            assert [t.id for t in status.tunnels] == [opened.id]
            assert await remote.one(rq.TunnelWrite(opened.id, b"hello")) == rs.Ok()
            got = b""
            while got != b"HELLO":
                msg = (await box.next(10)).payload.value
                assert msg == rs.TunnelData(opened.id, msg.data)
                got += msg.data
            assert await remote.one(rq.TunnelClose(opened.id)) == rs.Ok()
            assert (await box.next(10)).payload.value == rs.TunnelClosed(opened.id)
        tg.cancel_scope.cancel()
    assert_error(await remote.one(rq.TunnelWrite(999, b"x")), ErrorKind.NOT_FOUND)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    reply = await remote.one(rq.TunnelOpen("127.0.0.1", free))
    assert_error(reply, ErrorKind.CONNECTION_REFUSED)


async def test_reverse_tunnel(remote: Remote) -> None:
    async with remote.client.stream(Msg.single(rq.TunnelListen("127.0.0.1", 0))) as box:
        listening = (await box.next(15)).payload.value
        assert isinstance(listening, rs.TunnelListening) and listening.port > 0
        stream = await anyio.connect_tcp("127.0.0.1", listening.port)
        async with stream:
            incoming = (await box.next(10)).payload.value
            assert isinstance(incoming, rs.TunnelIncoming)
            assert incoming.listener_id == listening.id and incoming.tunnel_id != listening.id
            sub = incoming.tunnel_id
            await stream.send(b"from peer")
            data = (await box.next(10)).payload.value
            assert data == rs.TunnelData(sub, b"from peer")
            assert await remote.one(rq.TunnelWrite(sub, b"to peer")) == rs.Ok()
            assert await stream.receive() == b"to peer"
            assert await remote.one(rq.TunnelClose(listening.id)) == rs.Ok()
            closed = [(await box.next(10)).payload.value for _ in range(2)]
            assert closed == [rs.TunnelClosed(sub), rs.TunnelClosed(listening.id)]


async def test_reverse_sub_tunnels_end_alone_and_the_listener_keeps_accepting(
    remote: Remote,
) -> None:
    async with remote.client.stream(Msg.single(rq.TunnelListen("127.0.0.1", 0))) as box:
        listening = (await box.next(15)).payload.value
        assert isinstance(listening, rs.TunnelListening)
        subs = []
        for n in range(2):
            stream = await anyio.connect_tcp("127.0.0.1", listening.port)
            incoming = (await box.next(10)).payload.value
            assert isinstance(incoming, rs.TunnelIncoming)
            assert incoming.listener_id == listening.id
            subs.append(incoming.tunnel_id)
            await stream.send(b"ping %d" % n)
            assert (await box.next(10)).payload.value == rs.TunnelData(subs[-1], b"ping %d" % n)
            await stream.aclose()  # the peer ends this sub-tunnel; the listener goes on
            assert (await box.next(10)).payload.value == rs.TunnelClosed(subs[-1])
            assert_error(await remote.one(rq.TunnelWrite(subs[-1], b"x")), ErrorKind.NOT_FOUND)
        assert len(set(subs)) == 2 and listening.id not in subs
        status = await remote.one(rq.Status())
        assert [t.id for t in status.tunnels] == [listening.id]
        assert await remote.one(rq.TunnelClose(listening.id)) == rs.Ok()
        assert (await box.next(10)).payload.value == rs.TunnelClosed(listening.id)


# -- system ---------------------------------------------------------------------------------


async def test_system_info_and_version(remote: Remote) -> None:
    info = await remote.one(rq.SystemInfo())
    assert info.family == "unix" and info.os == "linux" and info.main_separator == "/"
    assert info.arch == {"x86_64": "x86_64", "aarch64": "aarch64"}.get(
        os.uname().machine, info.arch
    )
    assert info.username == remote_user(remote)
    assert info.current_dir == os.path.expanduser(f"~{info.username}")
    assert info.shell
    version = await remote.one(rq.Version())
    assert version.server_version.endswith("+distant-ssh")
    caps = set(version.capabilities)
    assert {"exec", "fs_io", "fs_perm", "fs_search", "tcp_tunnel", "sys_info", "fs_range"} <= caps
    assert ("fs_watch" in caps) == (shutil.which("inotifywait") is not None)


def remote_user(remote: Remote) -> str:
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name
