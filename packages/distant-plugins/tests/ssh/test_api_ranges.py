"""``file_read_range`` over ssh answers exactly as the host does (``data``, ``eof``, error
kind), for both backends: the ssh Api decides ``eof`` from one byte read past the range and
stats only when that cannot tell, so every rule of ``distant_server.host.ranges`` is checked
here against the host's own ``read_range`` on the same files (the sshd logs in as the
current user, so remote paths are local ones).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from tests.support.sshd import PrivateSshd

from distant_codec import MSG_EXTENDED_REQUEST, MSG_EXTENDED_RESPONSE, Error, Msg
from distant_codec import extensions as ex
from distant_net import Client
from distant_plugins.in_process import serve_api
from distant_plugins.ssh.api import SshApi
from distant_plugins.ssh.asyncssh_backend import open_asyncssh_session
from distant_plugins.ssh.bridge import asyncio_loop
from distant_plugins.ssh.openssh_backend import open_openssh_session
from distant_plugins.ssh.session import SessionOpener, SshTarget
from distant_server import error_from_exception
from distant_server.host.ranges import read_range

from ._auth import NoPrompts as _NoPrompts

pytestmark = pytest.mark.anyio

OPENERS: dict[str, SessionOpener] = {
    "asyncssh": open_asyncssh_session,
    "openssh": open_openssh_session,
}


@pytest.fixture
def anyio_backend() -> str:
    return "trio"


@pytest.fixture(params=list(OPENERS))
async def client(
    request: pytest.FixtureRequest, private_sshd: PrivateSshd
) -> AsyncIterator[Client[Any, Any]]:
    target = SshTarget(
        host=private_sshd.host,
        port=private_sshd.port,
        user=private_sshd.user,
        identity_files=(str(private_sshd.client_key),),
        identities_only=True,
        user_known_hosts_files=(str(private_sshd.known_hosts),),
    )
    async with asyncio_loop():
        session = await OPENERS[request.param](target, _NoPrompts())
        try:
            async with (
                serve_api(SshApi(session)) as link,
                Client(link, MSG_EXTENDED_REQUEST, MSG_EXTENDED_RESPONSE) as client,
            ):
                yield client
        finally:
            await session.aclose()


def host_answer(path: str, offset: int, length: int) -> Any:
    try:
        chunk = read_range(path, offset, length, False)
    except Exception as exc:
        return ("error", error_from_exception(exc).kind)
    return (bytes(chunk.data), chunk.eof)


async def ssh_answer(client: Client[Any, Any], path: str, offset: int, length: int) -> Any:
    request = Msg.single(ex.FileReadRange(path, offset, length))
    reply = (await client.request(request, timeout=15)).payload.value
    if isinstance(reply, Error):
        return ("error", reply.kind)
    assert isinstance(reply, ex.FileChunk) and reply.offset == offset
    return (bytes(reply.data), reply.eof)


async def test_read_range_data_eof_and_errors_match_the_host(
    client: Client[Any, Any], tmp_path: Path
) -> None:
    data = os.urandom(300 * 1024 + 7)  # more than one SFTP block
    big, small, empty = tmp_path / "big.bin", tmp_path / "small.bin", tmp_path / "empty"
    big.write_bytes(data)
    small.write_bytes(b"0123456789")
    empty.write_bytes(b"")
    (tmp_path / "link").symlink_to(small)
    n = len(data)
    cases: list[tuple[str, int, int]] = [
        (str(big), 0, n),  # exactly to the end: eof
        (str(big), 0, n - 1),  # one short of the end: more follows
        (str(big), 0, n + 1),  # past the end: short read
        (str(big), 0, 128 * 1024),
        (str(big), 256 * 1024, 44 * 1024 + 7),  # the last part, exactly
        (str(big), n - 1, 1),
        (str(big), n, 10),  # at the end
        (str(big), n + 100, 10),  # past the end
        (str(small), 0, 10),
        (str(small), 0, 9),
        (str(small), 3, 4),
        (str(small), 0, 0),  # empty ranges: eof by the size
        (str(small), 10, 0),
        (str(small), 20, 0),
        (str(empty), 0, 0),
        (str(empty), 0, 5),
        (str(empty), 3, 5),
        (str(tmp_path / "link"), 0, 10),
        ("/proc/version", 0, 8),  # a regular file of size 0: a full read is not the end
        ("/proc/version", 0, 64 * 1024),
        ("/proc/version", 0, 0),
        ("/dev/zero", 0, 16),  # not a regular file: never the end by size
        ("/dev/null", 0, 16),
        ("/dev/null", 0, 0),
        (str(tmp_path), 0, 10),  # a directory: the same error
        (str(tmp_path), 0, 0),
        (str(tmp_path / "missing"), 0, 10),
        (str(tmp_path / "missing"), 0, 0),
    ]
    # (A path below a file is not here: SFTP reports ENOTDIR as "no such file", so the ssh
    # Api says not_found where the host says unknown, with or without the stat.)
    got = [await ssh_answer(client, *case) for case in cases]
    expected = [host_answer(*case) for case in cases]
    mismatches = [(c, g, e) for c, g, e in zip(cases, got, expected, strict=True) if g != e]
    assert not mismatches
    # The checks above saw every eof outcome and an error (the comparison is not vacuous).
    outcomes = {answer[1] for answer in expected}
    assert {True, False} <= outcomes and any(a[0] == "error" for a in expected)


async def test_read_range_after_the_file_grows_and_shrinks(
    client: Client[Any, Any], tmp_path: Path
) -> None:
    """The backend keeps the read handle of a chunked transfer open: eof still follows
    the file's current contents."""
    path = tmp_path / "changing.bin"
    path.write_bytes(b"a" * 100)
    assert await ssh_answer(client, str(path), 0, 50) == (b"a" * 50, False)
    with path.open("ab") as f:
        f.write(b"b" * 50)
    assert await ssh_answer(client, str(path), 50, 100) == (b"a" * 50 + b"b" * 50, True)
    os.truncate(path, 120)
    assert await ssh_answer(client, str(path), 100, 20) == (b"b" * 20, True)
    assert await ssh_answer(client, str(path), 100, 19) == (b"b" * 19, False)
