"""Range reads of the asyncssh backend: blocks in flight at once on an unpipelined handle,
reassembled in order, short only at the end of the file (against the real sshd), and a
server that splits a read is asked again for the rest."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import anyio.lowlevel
import pytest
from tests.support.sshd import PrivateSshd

from distant_plugins.ssh.asyncssh_backend import (
    AsyncsshSession,
    _read_range,
    open_asyncssh_session,
)
from distant_plugins.ssh.bridge import aio, asyncio_loop
from distant_plugins.ssh.session import SshTarget

from ._auth import NoPrompts

pytestmark = pytest.mark.anyio


def target(sshd: PrivateSshd) -> SshTarget:
    return SshTarget(
        host=sshd.host,
        port=sshd.port,
        user=sshd.user,
        identity_files=(str(sshd.client_key),),
        identities_only=True,
        user_known_hosts_files=(str(sshd.known_hosts),),
        connect_timeout=10.0,
    )


SIZE = 1024 * 1024 + 123  # not a multiple of any block size


async def test_ranges_match_the_file_at_every_offset(
    private_sshd: PrivateSshd, tmp_path: Path
) -> None:
    path = tmp_path / "data.bin"
    content = os.urandom(SIZE)
    path.write_bytes(content)
    async with asyncio_loop():
        session = await open_asyncssh_session(target(private_sshd), NoPrompts())
        try:
            assert isinstance(session, AsyncsshSession)
            for offset, length in [
                (0, 700_000),  # several SFTP blocks
                (700_000, 300_000),  # from the cached handle
                (1_000_000, 200_000),  # crosses the end: short
                (SIZE, 10),  # at the end: empty
                (SIZE + 5, 10),  # past the end: empty
                (5, 0),
            ]:
                got = await session.read(str(path), offset, length)
                assert got == content[offset : offset + length], (offset, length)
            assert await session.read(str(path)) == content  # whole file, pipelined handle

            # Many small blocks, all in flight at once, reassembled in order.
            file = await session._open(str(path), "rb", pipelined=False)
            try:
                blocks = await aio(_read_range, file, 10, 50_000, 1000)
                assert len(blocks) == 50 and b"".join(blocks) == content[10:50_010]
                blocks = await aio(_read_range, file, SIZE - 999, 5000, 1000)
                assert b"".join(blocks) == content[-999:]
            finally:
                await session._close_file(file)
        finally:
            await session.aclose()


class SplittingFile:
    """A remote file whose server returns at most ``cap`` bytes per read (SFTP allows it)."""

    def __init__(self, content: bytes, cap: int) -> None:
        self.content = content
        self.cap = cap
        self.reads: list[tuple[int, int]] = []

    async def read(self, size: int, offset: int) -> bytes:
        self.reads.append((offset, size))
        await anyio.lowlevel.checkpoint()
        return self.content[offset : offset + min(size, self.cap)]


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_split_read_is_asked_again_from_where_it_stopped(anyio_backend: str) -> None:
    content = bytes(range(256)) * 40
    file: Any = SplittingFile(content, cap=300)
    assert b"".join(await _read_range(file, 7, 5000, 1000)) == content[7:5007]
    assert file.reads[0] == (7, 1000)
    assert any(offset == 307 for offset, _ in file.reads)  # resumed after the first 300 bytes
