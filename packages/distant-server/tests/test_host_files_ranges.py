"""The ``fs_range`` extension on the host: ``file_read_range``, ``file_write_range``,
``file_checksum``, including a 64 MiB transfer each way in pipelined chunks."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import anyio
import pytest

from distant_codec import Error, ErrorKind, Msg
from distant_codec import extensions as ex
from distant_codec import responses as rs
from distant_server.host.files import MAX_RANGE_LENGTH, FileOps

from ._fs_support import as_nobody, get, put, shared_dir
from .harness import api_client, one

pytestmark = pytest.mark.anyio

OK = rs.Ok()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def test_read_range(tmp_path: Path) -> None:
    data = os.urandom(10_000)
    f = tmp_path / "f"
    f.write_bytes(data)
    async with api_client(FileOps()) as client:
        assert await one(client, ex.FileReadRange(str(f), 0, 4000)) == ex.FileChunk(
            0, data[:4000], False
        )
        assert await one(client, ex.FileReadRange(str(f), 4000, 6000, True)) == ex.FileChunk(
            4000, data[4000:], True, sha(data[4000:])
        )
        assert await one(client, ex.FileReadRange(str(f), 9000, 5000)) == ex.FileChunk(
            9000, data[9000:], True
        )  # short: the rest of the file
        assert await one(client, ex.FileReadRange(str(f), 20_000, 10, True)) == ex.FileChunk(
            20_000, b"", True, sha(b"")
        )
        assert await one(client, ex.FileReadRange(str(f), 5, 0)) == ex.FileChunk(5, b"", False)
        assert await one(client, ex.FileReadRange(str(f), 10_000, 0)) == ex.FileChunk(
            10_000, b"", True
        )
        (tmp_path / "empty").write_bytes(b"")
        assert await one(client, ex.FileReadRange(str(tmp_path / "empty"), 0, 100)) == (
            ex.FileChunk(0, b"", True)
        )


async def test_read_range_of_a_file_without_a_size() -> None:
    """/proc files report size 0: eof comes from a short read."""
    async with api_client(FileOps()) as client:
        chunk = await one(client, ex.FileReadRange("/proc/version", 0, 1 << 20))
        head = await one(client, ex.FileReadRange("/proc/self/mountinfo", 0, 16))
    assert isinstance(chunk, ex.FileChunk)
    assert chunk.data == get("/proc/version") and chunk.eof
    assert isinstance(head, ex.FileChunk) and len(head.data) == 16 and not head.eof


async def test_read_range_length_is_capped(tmp_path: Path) -> None:
    f = tmp_path / "sparse"
    os.truncate(put(f), 40 << 20)
    async with api_client(FileOps()) as client:
        chunk = await one(client, ex.FileReadRange(str(f), 0, 1 << 40), timeout=30)
        last = await one(client, ex.FileReadRange(str(f), (40 << 20) - 10, 1 << 40), timeout=30)
    assert isinstance(chunk, ex.FileChunk)
    assert len(chunk.data) == MAX_RANGE_LENGTH and not chunk.eof
    assert MAX_RANGE_LENGTH == (16 << 20) - (64 << 10)
    assert last == ex.FileChunk((40 << 20) - 10, bytes(10), True)


async def test_read_range_errors(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    async with api_client(FileOps()) as client:
        reply = await one(client, ex.FileReadRange(str(missing), 0, 10))
        assert reply == Error(ErrorKind.NOT_FOUND, f"No such file or directory: {missing}")
        reply = await one(client, ex.FileReadRange(str(tmp_path), 0, 10))
        assert reply == Error(ErrorKind.UNKNOWN, f"Is a directory: {tmp_path}")
        (tmp_path / "f").write_bytes(b"x")
        reply = await one(client, ex.FileReadRange(str(tmp_path / "f"), 1 << 63, 10))
        assert isinstance(reply, Error) and reply.kind == ErrorKind.INVALID_INPUT
        assert str(tmp_path / "f") in reply.description


async def test_write_range(tmp_path: Path) -> None:
    f = tmp_path / "f"
    async with api_client(FileOps()) as client:
        assert await one(client, ex.FileWriteRange(str(f), 0, b"hello world")) == OK
        assert f.read_bytes() == b"hello world"
        assert await one(client, ex.FileWriteRange(str(f), 6, b"WORLD", sha256=sha(b"WORLD"))) == OK
        assert f.read_bytes() == b"hello WORLD"
        assert await one(client, ex.FileWriteRange(str(f), 14, b"!")) == OK  # leaves a hole
        assert f.read_bytes() == b"hello WORLD\0\0\0!"
        assert await one(client, ex.FileWriteRange(str(f), 5, b"?", truncate=True)) == OK
        assert f.read_bytes() == b"hello?"
        assert await one(client, ex.FileWriteRange(str(f), 0, b"", truncate=True)) == OK
        assert f.read_bytes() == b""
        upper = sha(b"abc").upper()
        assert await one(client, ex.FileWriteRange(str(f), 0, b"abc", sha256=upper)) == OK
        assert f.read_bytes() == b"abc"


async def test_write_range_checksum_mismatch_writes_nothing(tmp_path: Path) -> None:
    f = tmp_path / "f"
    async with api_client(FileOps()) as client:
        reply = await one(client, ex.FileWriteRange(str(f), 0, b"data", sha256=sha(b"other")))
        assert isinstance(reply, Error) and reply.kind == ErrorKind.INVALID_DATA
        assert str(f) in reply.description and "sha256" in reply.description
        assert not f.exists()
        f.write_bytes(b"keep")
        reply = await one(
            client, ex.FileWriteRange(str(f), 0, b"data", truncate=True, sha256="00" * 32)
        )
        assert isinstance(reply, Error) and reply.kind == ErrorKind.INVALID_DATA
        assert f.read_bytes() == b"keep"


async def test_write_range_errors(tmp_path: Path) -> None:
    async with api_client(FileOps()) as client:
        into_missing = tmp_path / "no" / "f"
        reply = await one(client, ex.FileWriteRange(str(into_missing), 0, b"x"))
        assert reply == Error(ErrorKind.NOT_FOUND, f"No such file or directory: {into_missing}")
        reply = await one(client, ex.FileWriteRange(str(tmp_path), 0, b"x"))
        assert isinstance(reply, Error) and str(tmp_path) in reply.description


async def test_checksum(tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)  # several 1 MiB reads and a tail
    (tmp_path / "f").write_bytes(data)
    (tmp_path / "empty").write_bytes(b"")
    async with api_client(FileOps()) as client:
        assert await one(client, ex.FileChecksum(str(tmp_path / "f"))) == ex.Checksum(
            sha(data), len(data)
        )
        assert await one(client, ex.FileChecksum(str(tmp_path / "empty"))) == ex.Checksum(
            sha(b""), 0
        )
        missing = tmp_path / "missing"
        reply = await one(client, ex.FileChecksum(str(missing)))
        assert reply == Error(ErrorKind.NOT_FOUND, f"No such file or directory: {missing}")
        reply = await one(client, ex.FileChecksum(str(tmp_path)))
        assert reply == Error(ErrorKind.UNKNOWN, f"Is a directory: {tmp_path}")


async def test_range_permission_denied() -> None:
    with shared_dir() as d:
        secret = put(f"{d}/secret", b"root only", 0o600)
        async with api_client(FileOps()) as client:
            with as_nobody():
                replies = [
                    await one(client, ex.FileReadRange(str(secret), 0, 10)),
                    await one(client, ex.FileWriteRange(str(secret), 0, b"x")),
                    await one(client, ex.FileChecksum(str(secret))),
                    await one(client, ex.FileWriteRange(f"{d}/new", 0, b"x")),
                ]
        paths = [secret, secret, secret, f"{d}/new"]
        for reply, path in zip(replies, paths, strict=True):
            assert reply == Error(ErrorKind.PERMISSION_DENIED, f"Permission denied: {path}")
        assert get(secret) == b"root only"


# -- pipelined transfers -------------------------------------------------------------------

SIZE = 64 << 20
CHUNK = 4 << 20
IN_FLIGHT = 4


async def pipelined(client: Any, requests: list[Any], in_flight: int) -> list[Any]:
    """Send ``requests`` with at most ``in_flight`` outstanding; replies in request order."""
    replies: list[Any] = [None] * len(requests)
    limit = anyio.Semaphore(in_flight)
    peak = 0
    outstanding = 0

    async def run(i: int) -> None:
        nonlocal peak, outstanding
        async with limit:
            outstanding += 1
            peak = max(peak, outstanding)
            reply = await client.request(Msg.single(requests[i]), timeout=60)
            outstanding -= 1
            replies[i] = reply.payload.value

    async with anyio.create_task_group() as tg:
        for i in range(len(requests)):
            tg.start_soon(run, i)
    assert peak == in_flight  # really pipelined
    return replies


@pytest.mark.slow
async def test_64_mib_download_in_pipelined_chunks(tmp_path: Path) -> None:
    f = tmp_path / "big"
    data = os.urandom(SIZE)
    digest = hashlib.sha256(data)
    put(f, data)
    del data
    async with api_client(FileOps()) as client:
        requests = [ex.FileReadRange(str(f), off, CHUNK, True) for off in range(0, SIZE, CHUNK)]
        chunks = await pipelined(client, requests, IN_FLIGHT)
        whole = await one(client, ex.FileChecksum(str(f)), timeout=60)
    received = hashlib.sha256()
    for i, chunk in enumerate(chunks):
        assert isinstance(chunk, ex.FileChunk)
        assert chunk.offset == i * CHUNK and len(chunk.data) == CHUNK
        assert chunk.sha256 == sha(chunk.data)
        assert chunk.eof == (i == len(chunks) - 1)
        received.update(chunk.data)
    assert received.hexdigest() == digest.hexdigest()
    assert whole == ex.Checksum(digest.hexdigest(), SIZE)


@pytest.mark.slow
async def test_64_mib_upload_in_pipelined_chunks(tmp_path: Path) -> None:
    f = tmp_path / "upload"
    blocks = [os.urandom(CHUNK) for _ in range(SIZE // CHUNK)]
    async with api_client(FileOps()) as client:
        requests = [
            ex.FileWriteRange(str(f), i * CHUNK, b, truncate=(i == 0), sha256=sha(b))
            for i, b in enumerate(blocks)
        ]
        # The truncating first chunk goes alone; the rest are pipelined.
        assert await one(client, requests[0], timeout=60) == OK
        replies = await pipelined(client, requests[1:], IN_FLIGHT)
        assert replies == [OK] * (len(requests) - 1)
        whole = await one(client, ex.FileChecksum(str(f)), timeout=60)
    expected = hashlib.sha256(b"".join(blocks)).hexdigest()
    assert whole == ex.Checksum(expected, SIZE)
