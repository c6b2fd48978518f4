"""The ``fs_range`` extension of DockerApi against a real engine: through ``dd`` and
``sha256sum`` in busybox, and through the archive API in a container without tools."""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from tests.support.dockerd import NOSHELL_DATA, RunningContainer

from distant_codec import MSG_EXTENDED_REQUEST, MSG_EXTENDED_RESPONSE, Error, ErrorKind, Msg
from distant_codec import extensions as ex
from distant_codec import requests as rq
from distant_codec import responses as rs
from distant_net import Client
from distant_plugins.docker import DockerApi
from distant_plugins.in_process import serve_api
from distant_server.host.ranges import MAX_RANGE_LENGTH

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def api_client(docker_client: Any, container: str) -> AsyncIterator[Client[Any, Any]]:
    async with (
        serve_api(DockerApi(docker_client, container)) as link,
        Client(link, MSG_EXTENDED_REQUEST, MSG_EXTENDED_RESPONSE) as client,  # type: ignore[arg-type]
    ):
        yield client


async def one(client: Client[Any, Any], request: Any, timeout: float = 20) -> Any:
    return (await client.request(Msg.single(request), timeout=timeout)).payload.value


def fresh() -> str:
    return f"/tmp/r-{secrets.token_hex(4)}"


async def test_ranges_through_dd(docker_client: Any, busybox: RunningContainer) -> None:
    d = fresh()
    data = os.urandom(300_000)
    async with api_client(docker_client, busybox.id) as client:
        assert "fs_range" in (await one(client, rq.Version())).capabilities
        await one(client, rq.DirCreate(d))
        path = f"{d}/blob"
        # writes: the first truncates, the others land at their offsets, in any order
        await one(client, rq.FileWriteText(path, "x" * 500_000))  # longer: cut by truncate
        assert isinstance(await one(client, ex.FileWriteRange(path, 0, data[:100], True)), rs.Ok)
        assert (await one(client, rq.Metadata(path))).len == 100
        digest = hashlib.sha256(data[200_000:]).hexdigest()
        reply = await one(client, ex.FileWriteRange(path, 200_000, data[200_000:], sha256=digest))
        assert isinstance(reply, rs.Ok)
        await one(client, ex.FileWriteRange(path, 100, data[100:200_000]))
        assert (await one(client, rq.FileRead(path))).data == data

        # reads: exact ranges, eof at the end, a short last chunk, checksums
        chunk = await one(client, ex.FileReadRange(path, 1000, 5000, checksum=True))
        assert chunk == ex.FileChunk(
            1000, data[1000:6000], False, hashlib.sha256(data[1000:6000]).hexdigest()
        )
        last = await one(client, ex.FileReadRange(path, 250_000, 50_000))
        assert (last.data, last.eof) == (data[250_000:], True)
        short = await one(client, ex.FileReadRange(path, 290_000, 1 << 40))
        assert (short.data, short.eof) == (data[290_000:], True)
        past = await one(client, ex.FileReadRange(path, 400_000, 10))
        assert (past.data, past.eof) == (b"", True)
        assert (await one(client, ex.FileReadRange(path, 0, 0))).data == b""

        checksum = await one(client, ex.FileChecksum(path))
        assert checksum == ex.Checksum(hashlib.sha256(data).hexdigest(), len(data))

        # an empty upload, a new file's mode, errors
        assert isinstance(await one(client, ex.FileWriteRange(f"{d}/empty", 0, b"", True)), rs.Ok)
        assert (await one(client, rq.Metadata(f"{d}/empty"))).len == 0
        bad = await one(client, ex.FileWriteRange(path, 0, b"abc", sha256="00" * 32))
        assert isinstance(bad, Error) and bad.kind is ErrorKind.INVALID_DATA
        assert (await one(client, ex.FileChecksum(path))).sha256 == checksum.sha256  # untouched
        for request in (
            ex.FileReadRange(f"{d}/missing", 0, 10),
            ex.FileChecksum(f"{d}/missing"),
            ex.FileWriteRange(f"{d}/no/such/dir", 0, b"x"),
        ):
            err = await one(client, request)
            assert isinstance(err, Error) and err.kind is ErrorKind.NOT_FOUND, (request, err)
        for request in (
            ex.FileReadRange(d, 0, 10),
            ex.FileChecksum(d),
            ex.FileWriteRange(d, 0, b""),
        ):
            err = await one(client, request)
            assert isinstance(err, Error) and "directory" in err.description.lower(), request
        too_far = await one(client, ex.FileReadRange(path, 2**63, 1))
        assert isinstance(too_far, Error) and too_far.kind is ErrorKind.INVALID_INPUT


async def test_a_long_range_is_capped(docker_client: Any, busybox: RunningContainer) -> None:
    d = fresh()
    size = MAX_RANGE_LENGTH + 1000
    async with api_client(docker_client, busybox.id) as client:
        await one(client, rq.DirCreate(d))
        path = f"{d}/big"
        await one(client, ex.FileWriteRange(path, size - 1, b"!", True))  # a sparse file
        chunk = await one(client, ex.FileReadRange(path, 0, size), timeout=60)
        assert (len(chunk.data), chunk.eof) == (MAX_RANGE_LENGTH, False)
        rest = await one(client, ex.FileReadRange(path, MAX_RANGE_LENGTH, size))
        assert (rest.data, rest.eof) == (bytes(999) + b"!", True)


async def test_ranges_without_tools(docker_client: Any, noshell: RunningContainer) -> None:
    async with api_client(docker_client, noshell.id) as client:
        assert "fs_range" not in (await one(client, rq.Version())).capabilities
        chunk = await one(client, ex.FileReadRange("/data/hello.txt", 6, 4))
        assert (chunk.data, chunk.eof) == (NOSHELL_DATA[6:10], False)
        checksum = await one(client, ex.FileChecksum("/data/hello.txt"))
        assert checksum == ex.Checksum(hashlib.sha256(NOSHELL_DATA).hexdigest(), len(NOSHELL_DATA))
        path = "/data/ranged.bin"
        await one(client, ex.FileWriteRange(path, 0, b"hello", True))
        await one(client, ex.FileWriteRange(path, 8, b"end"))
        await one(client, ex.FileWriteRange(path, 2, b"LL"))
        assert (await one(client, rq.FileRead(path))).data == b"heLLo\0\0\0end"
        await one(client, ex.FileWriteRange(path, 3, b"", True))
        assert (await one(client, rq.FileRead(path))).data == b"heL"
