"""The SFTP v3 client against OpenSSH's real ``sftp-server`` run locally over pipes (the
same program an sshd runs for the ``sftp`` subsystem), on both anyio backends."""

from __future__ import annotations

import errno
import os
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from distant_plugins.ssh.sftp_client import SftpClient, SftpClosed
from distant_plugins.ssh.sftp_wire import PacketBuffer, SftpProtocolError

SFTP_SERVER = "/usr/lib/openssh/sftp-server"

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(not os.path.exists(SFTP_SERVER), reason="needs openssh-sftp-server"),
]


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def sftp() -> AsyncIterator[SftpClient]:
    async with await anyio.open_process([SFTP_SERVER, "-e"], stderr=None) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        client = SftpClient(proc.stdin, proc.stdout)
        await client.handshake()
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.run_reader)
            await client.negotiate_limits()
            yield client
            await client.aclose()
        await proc.wait()


def test_packet_buffer_cuts_packets_across_feeds() -> None:
    buf = PacketBuffer()
    packet = b"\x00\x00\x00\x06\x65abcde"
    assert buf.feed(packet[:3]) == []
    assert buf.feed(packet[3:] + packet[:7]) == [(0x65, b"abcde")]
    assert buf.feed(packet[7:]) == [(0x65, b"abcde")]
    with pytest.raises(SftpProtocolError):
        buf.feed(b"\xff\xff\xff\xff\x01")


async def test_handshake_reads_extensions_and_limits(sftp: SftpClient) -> None:
    assert "posix-rename@openssh.com" in sftp.extensions
    # OpenSSH states its limits: chunks grow from the 64 KiB default to ~256 KiB.
    assert sftp.read_chunk > 200 * 1024
    assert sftp.write_chunk > 200 * 1024


async def test_files_round_trip_and_attributes(sftp: SftpClient, tmp_path: Path) -> None:
    path = str(tmp_path / "a.txt")
    await sftp.write(path, b"hello world")
    assert (tmp_path / "a.txt").read_bytes() == b"hello world"
    assert await sftp.read(path) == b"hello world"
    assert await sftp.read(path, 6) == b"world"
    assert await sftp.read(path, 2, 3) == b"llo"
    assert await sftp.read(path, 100) == b""
    await sftp.write(path, b"!!", append=True)
    assert (tmp_path / "a.txt").read_bytes() == b"hello world!!"
    await sftp.write_at(path, 6, b"W", truncate=False)
    assert (tmp_path / "a.txt").read_bytes() == b"hello World!!"
    await sftp.write_at(path, 5, b"?", truncate=True)
    assert (tmp_path / "a.txt").read_bytes() == b"hello?"
    await sftp.write_at(str(tmp_path / "new"), 2, b"x", truncate=False)
    assert (tmp_path / "new").read_bytes() == b"\0\0x"

    attrs = await sftp.stat(path)
    assert (attrs.kind, attrs.size) == ("file", 6)
    assert attrs.mtime == int((tmp_path / "a.txt").stat().st_mtime)
    await sftp.chmod(path, 0o640)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o640
    assert (await sftp.stat(path)).permissions & 0o777 == 0o640
    assert (await sftp.stat(str(tmp_path))).kind == "dir"

    os.symlink("a.txt", tmp_path / "link")
    assert (await sftp.lstat(str(tmp_path / "link"))).kind == "symlink"
    assert (await sftp.stat(str(tmp_path / "link"))).kind == "file"
    assert await sftp.readlink(str(tmp_path / "link")) == "a.txt"
    await sftp.symlink("new", str(tmp_path / "link2"))
    assert os.readlink(tmp_path / "link2") == "new"
    assert await sftp.realpath(str(tmp_path / "link")) == str((tmp_path / "a.txt").resolve())


async def test_directories(sftp: SftpClient, tmp_path: Path) -> None:
    base = str(tmp_path)
    await sftp.mkdir(base + "/d", 0o750)
    assert (tmp_path / "d").is_dir()
    (tmp_path / "d" / "f").write_text("x")
    os.symlink("f", tmp_path / "d" / "l")
    listing = dict(await sftp.listdir(base + "/d"))
    assert sorted(listing) == ["f", "l"]
    assert listing["f"].kind == "file" and listing["f"].size == 1
    assert listing["l"].kind == "symlink"
    await sftp.rename(base + "/d/f", base + "/d/g")
    assert (tmp_path / "d" / "g").read_text() == "x"
    (tmp_path / "d" / "h").write_text("replaced")
    await sftp.rename(base + "/d/g", base + "/d/h")  # POSIX rename replaces
    assert (tmp_path / "d" / "h").read_text() == "x"
    await sftp.remove(base + "/d/h")
    await sftp.remove(base + "/d/l")
    await sftp.rmdir(base + "/d")
    assert not (tmp_path / "d").exists()


async def test_errors_carry_errnos(sftp: SftpClient, tmp_path: Path) -> None:
    base = str(tmp_path)
    (tmp_path / "file").write_text("x")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "inner").write_text("y")
    cases = [
        (sftp.stat(base + "/missing"), errno.ENOENT),
        (sftp.read(base + "/missing"), errno.ENOENT),
        (sftp.read(base), errno.EISDIR),
        (sftp.write(base + "/full", b"x"), errno.EISDIR),
        (sftp.write(base + "/nodir/f", b"x"), errno.ENOENT),
        (sftp.write(base + "/file/f", b"x"), errno.ENOTDIR),
        (sftp.mkdir(base + "/file"), errno.EEXIST),
        (sftp.mkdir(base + "/full"), errno.EEXIST),
        (sftp.mkdir(base + "/nodir/sub"), errno.ENOENT),
        (sftp.mkdir(base + "/file/sub"), errno.ENOTDIR),
        (sftp.rmdir(base + "/full"), errno.ENOTEMPTY),
        (sftp.rmdir(base + "/file"), errno.ENOTDIR),
        (sftp.rmdir(base + "/missing"), errno.ENOENT),
        (sftp.remove(base + "/full"), errno.EISDIR),
        (sftp.remove(base + "/missing"), errno.ENOENT),
        (sftp.listdir(base + "/file"), errno.ENOTDIR),
        (sftp.listdir(base + "/missing"), errno.ENOENT),
        (sftp.rename(base + "/missing", base + "/x"), errno.ENOENT),
        (sftp.rename(base + "/file", base + "/full"), errno.EISDIR),
        (sftp.readlink(base + "/file"), errno.EINVAL),
        (sftp.readlink(base + "/missing"), errno.ENOENT),
    ]
    for coro, expected in cases:
        with pytest.raises(OSError) as info:
            await coro
        assert info.value.errno == expected, (info.value, expected)
    os.chmod(tmp_path / "file", 0)
    if os.geteuid() != 0:  # root reads anything
        with pytest.raises(PermissionError):
            await sftp.read(base + "/file")


async def test_large_transfers_are_exact(sftp: SftpClient, tmp_path: Path) -> None:
    data = os.urandom(32 * 1024 * 1024 + 12345)
    path = str(tmp_path / "big")
    await sftp.write(path, data)
    assert (tmp_path / "big").read_bytes() == data
    assert await sftp.read(path) == data
    assert await sftp.read(path, 1000, 5 * 1024 * 1024) == data[1000 : 1000 + 5 * 1024 * 1024]
    # Many requests at once from several tasks share the channel.
    results: dict[int, bytes] = {}

    async def one(i: int) -> None:
        results[i] = await sftp.read(path, i * 999_999, 300_000)

    async with anyio.create_task_group() as tg:
        for i in range(20):
            tg.start_soon(one, i)
    for i in range(20):
        assert results[i] == data[i * 999_999 : i * 999_999 + 300_000]


async def test_a_closed_channel_fails_waiters(tmp_path: Path) -> None:
    async with await anyio.open_process([SFTP_SERVER]) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        client = SftpClient(proc.stdin, proc.stdout)
        await client.handshake()
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.run_reader)
            proc.kill()
            with pytest.raises(SftpClosed):
                for _ in range(100):
                    await client.stat(str(tmp_path))
                    await anyio.sleep(0.01)
        assert client.closed
