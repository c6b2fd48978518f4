"""The openssh backend against a private OpenSSH sshd: the ControlMaster, prompts relayed
through the auth handler, SFTP, processes (with PTY), and TCP both ways."""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import anyio.abc
import pytest
from tests.support.sshd import SSHD, PrivateSshd

from distant_manager import PluginError
from distant_plugins.ssh.openssh_backend import (
    OpensshSession,
    forward_error,
    open_openssh_session,
    remote_exit_status,
)
from distant_plugins.ssh.openssh_master import master_args
from distant_plugins.ssh.session import SshTarget

from ._auth import Answers

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(
        not os.path.exists(SSHD) or os.geteuid() != 0 or shutil.which("ssh") is None,
        reason="needs root, openssh-server and the ssh client",
    ),
]


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "trio"


@pytest.fixture(scope="module")
def sshd() -> Iterator[PrivateSshd]:
    with PrivateSshd(extra_config=["AllowTcpForwarding yes"]) as server:
        yield server


def target_for(sshd: PrivateSshd, **changes: object) -> SshTarget:
    fields: dict[str, object] = {
        "host": sshd.host,
        "port": sshd.port,
        "user": sshd.user,
        "identity_files": (str(sshd.client_key),),
        "identities_only": True,
        "user_known_hosts_files": (str(sshd.known_hosts),),
        "connect_timeout": 30.0,
        # Hermetic: no ~/.ssh/config, no system known hosts.
        "extra": {"config_file": "/dev/null", "GlobalKnownHostsFile": "/dev/null"},
    }
    fields.update(changes)
    return SshTarget(**fields)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
async def session(sshd: PrivateSshd) -> AsyncIterator[OpensshSession]:
    opened = await open_openssh_session(target_for(sshd), Answers())
    yield opened
    await opened.aclose()


def test_master_command_line_honours_target_options() -> None:
    target = SshTarget(
        host="alias", port=2222, user="me", identity_files=("a", "b c"), identities_only=True,
        proxy_command="nc %h %p", user_known_hosts_files=("k1", "k 2"), verbose=True,
        extra={"StrictHostKeyChecking": "yes", "backend": "openssh", "config_file": "cfg"},
    )  # fmt: skip
    args = master_args(target, "/tmp/x/ctl")
    assert args[:5] == ["ssh", "-M", "-S", "/tmp/x/ctl", "-N"]
    assert args[-2:] == ["--", "alias"]
    joined = " ".join(args)
    for piece in ("-F cfg", "-p 2222", "-l me", "-i a", "-i b c", "-o IdentitiesOnly=yes",
                  "-o ProxyCommand=nc %h %p", '-o UserKnownHostsFile=k1 "k 2"', "-v"):  # fmt: skip
        assert piece in joined, piece
    # The user's explicit choice comes before (and so beats) our default of "ask".
    assert args.index("StrictHostKeyChecking=yes") < args.index("StrictHostKeyChecking=ask")
    assert "backend=openssh" not in joined


async def test_commands_exit_codes_stdin_env(session: OpensshSession) -> None:
    assert session.backend == "openssh" and not session.closed
    assert await session.run("echo out; echo err >&2; exit 3") == (3, b"out\n", b"err\n")
    assert await session.run("cat", input=b"abc" * 1000) == (0, b"abc" * 1000, b"")
    process = await session.exec("echo $GREETING", env={"GREETING": "it's here"})
    assert b"".join([c async for c in process.stdout]) == b"it's here\n"
    assert await process.wait() == 0


async def test_a_death_by_signal_has_no_exit_code(session: OpensshSession) -> None:
    """ssh exits 255 both for a remote ``exit 255`` and a death by signal: the client's
    own log tells them apart, with a PTY too; no log file is left behind."""
    assert (await session.run("exit 255"))[0] == 255
    assert (await session.run("kill -9 $$"))[0] is None
    assert (await session.run("kill -TERM $$"))[0] is None
    assert (await session.run("exit 130"))[0] == 130
    process = await session.exec("kill -9 $$", pty=(24, 80))
    assert [c async for c in process.stdout] == []
    assert await process.wait() is None
    process = await session.exec("exit 255", pty=(24, 80))
    assert [c async for c in process.stdout] == []
    assert await process.wait() == 255
    assert [p.name for p in session.master.directory.glob("*.log")] == ["master.log"]


def test_remote_exit_status_reads_what_the_client_logged() -> None:
    assert remote_exit_status("debug2: Received exit status from master 255\n") == 255
    assert remote_exit_status("debug2: Control master terminated unexpectedly\n") is None
    assert remote_exit_status("debug1: Exit status -1\n") is None  # a direct client
    assert remote_exit_status("debug1: Exit status 4\n") == 4
    assert remote_exit_status("") is None


def test_forward_error_names_the_reason() -> None:
    refused = "channel 3: open failed: connect failed: Connection refused\n"
    error = forward_error(refused, "127.0.0.1:1")
    assert (error.errno, error.strerror, error.filename) == (
        errno.ECONNREFUSED,
        "Connection refused",
        "127.0.0.1:1",
    )
    unreachable = "channel 4: open failed: connect failed: No route to host\n"
    assert forward_error(refused + unreachable, "h:1").errno == errno.EHOSTUNREACH
    prohibited = "channel 5: open failed: administratively prohibited: open failed\n"
    error = forward_error(prohibited, "h:1")
    assert error.errno == errno.ECONNREFUSED and "prohibited" in str(error.strerror)


async def test_open_tcp_to_a_closed_port_is_refused(session: OpensshSession) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    with anyio.fail_after(10), pytest.raises(OSError) as info:
        await session.open_tcp("127.0.0.1", free)
    assert info.value.errno == errno.ECONNREFUSED


async def test_kill_ends_a_process(session: OpensshSession) -> None:
    process = await session.exec("sleep 30")
    with anyio.fail_after(10):
        await process.kill()
        assert await process.wait() is None
        await process.kill()  # idempotent


async def test_pty_reports_a_terminal_and_its_size(session: OpensshSession) -> None:
    process = await session.exec("sh", pty=(24, 80), term="vt100")
    seen = b""

    async def read_until(marker: bytes) -> None:
        nonlocal seen
        async for chunk in process.stdout:
            seen += chunk
            if marker in seen:
                return

    with anyio.fail_after(15):
        await process.write(b'tty; echo T=$TERM; stty size; echo MA""RK1\n')
        await read_until(b"MARK1\r\n")
        assert b"/dev/pts/" in seen and b"T=vt100" in seen and b"24 80" in seen
        await process.resize(40, 100)
        await anyio.sleep(0.2)
        await process.write(b'stty size; echo MA""RK2; exit 7\n')
        await read_until(b"MARK2\r\n")
        assert b"40 100" in seen
        assert [c async for c in process.stderr] == []
        assert await process.wait() == 7


async def test_sftp_operations_and_errnos(session: OpensshSession, tmp_path: Path) -> None:
    base = str(tmp_path)
    await session.mkdir(base + "/d")
    await session.write(base + "/d/f", b"hello")
    await session.write(base + "/d/f", b" world", append=True)
    assert (tmp_path / "d" / "f").read_bytes() == b"hello world"
    assert await session.read(base + "/d/f", 6) == b"world"
    await session.write_at(base + "/d/f", 5, b"!", truncate=True)
    assert await session.read(base + "/d/f") == b"hello!"
    assert [name for name, _ in await session.listdir(base + "/d")] == ["f"]
    await session.chmod(base + "/d/f", 0o600)
    attrs = await session.stat(base + "/d/f")
    assert (attrs.kind, attrs.size, attrs.permissions & 0o777) == ("file", 6, 0o600)
    os.symlink("f", tmp_path / "d" / "l")
    assert (await session.lstat(base + "/d/l")).kind == "symlink"
    assert await session.readlink(base + "/d/l") == "f"
    assert await session.realpath(base + "/d/l") == os.path.realpath(base + "/d/f")  # noqa: ASYNC240
    await session.rename(base + "/d/f", base + "/d/g")
    for call, expected in [
        (session.stat(base + "/d/f"), errno.ENOENT),
        (session.mkdir(base + "/d"), errno.EEXIST),
        (session.rmdir(base + "/d"), errno.ENOTEMPTY),
        (session.remove(base + "/d"), errno.EISDIR),
        (session.read(base + "/d"), errno.EISDIR),
        (session.listdir(base + "/d/g"), errno.ENOTDIR),
    ]:
        with pytest.raises(OSError) as info:
            await call
        assert info.value.errno == expected
        assert info.value.strerror == os.strerror(expected)  # the host's text, not sftp's
    await session.remove(base + "/d/g")
    await session.remove(base + "/d/l")
    await session.rmdir(base + "/d")
    assert not (tmp_path / "d").exists()


async def test_large_round_trip(session: OpensshSession, tmp_path: Path) -> None:
    data = os.urandom(32 * 1024 * 1024)
    await session.write(str(tmp_path / "big"), data)
    assert (tmp_path / "big").read_bytes() == data
    assert await session.read(str(tmp_path / "big")) == data


async def test_open_tcp_reaches_a_local_echo_server(session: OpensshSession) -> None:
    async def echo(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            async for chunk in stream:
                await stream.send(chunk)

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, echo)
        with anyio.fail_after(10):
            stream = await session.open_tcp("127.0.0.1", port)
            await stream.send(b"ping")
            got = b""
            while len(got) < 4:
                got += await stream.receive()
            assert got == b"ping"
            await stream.send_eof()
            with pytest.raises(anyio.EndOfStream):
                await stream.receive()
            await stream.aclose()
        tg.cancel_scope.cancel()


async def test_listen_tcp_forwards_remote_connections(session: OpensshSession) -> None:
    peers: list[tuple[str, int]] = []

    async def on_connection(stream: anyio.abc.ByteStream, host: str, port: int) -> None:
        peers.append((host, port))
        data = await stream.receive()
        await stream.send(data.upper())

    with anyio.fail_after(15):
        forward = await session.listen_tcp("127.0.0.1", 0, on_connection)
        assert forward.port > 0
        async with await anyio.connect_tcp("127.0.0.1", forward.port) as client:
            await client.send(b"hello")
            assert await client.receive() == b"HELLO"
        assert peers and peers[0][0] == "127.0.0.1"
        await forward.aclose()
        # The master confirms the cancel before sshd has closed its listener: poll.
        for _ in range(50):
            try:
                await (await anyio.connect_tcp("127.0.0.1", forward.port)).aclose()
            except OSError:
                break
            await anyio.sleep(0.05)
        else:
            raise AssertionError("the remote listener is still open")


async def test_unknown_host_key_is_relayed_as_a_verification(
    sshd: PrivateSshd, tmp_path: Path
) -> None:
    known = tmp_path / "known_hosts"
    known.write_text("")
    refuse = Answers(accept_host=False)
    with pytest.raises(PluginError, match=r"(?i)host key verification failed"):
        await open_openssh_session(target_for(sshd, user_known_hosts_files=(str(known),)), refuse)
    assert len(refuse.verifications) == 1
    assert "authenticity of host" in refuse.verifications[0].text
    assert refuse.verifications[0].kind == "host"
    assert known.read_text() == ""

    accept = Answers(accept_host=True)
    session = await open_openssh_session(
        target_for(sshd, user_known_hosts_files=(str(known),)), accept
    )
    try:
        assert len(accept.verifications) == 1
        assert (await session.run("echo ok"))[1] == b"ok\n"
        assert known.read_text().strip()  # ssh recorded the accepted key
    finally:
        await session.aclose()
    assert session.closed


async def test_key_passphrase_comes_from_a_challenge(sshd: PrivateSshd, tmp_path: Path) -> None:
    key = tmp_path / "locked"
    await anyio.run_process(["ssh-keygen", "-q", "-t", "ed25519", "-N", "secret", "-f", str(key)])
    authorized = sshd.directory / "authorized_keys"
    authorized.write_text(authorized.read_text() + (tmp_path / "locked.pub").read_text())
    target = target_for(sshd, identity_files=(str(key),))

    refuse = Answers(secret=None)
    with pytest.raises(PluginError, match=r"(?i)permission denied"):
        await open_openssh_session(target, refuse)
    assert refuse.challenges and "passphrase" in refuse.challenges[0].questions[0].text

    answer = Answers(secret="secret")
    session = await open_openssh_session(target, answer)
    try:
        assert len(answer.challenges) == 1
        assert answer.challenges[0].questions[0].options == {"echo": "false"}
        assert (await session.run("echo ok"))[0] == 0
    finally:
        await session.aclose()


async def test_closing_ends_the_master(sshd: PrivateSshd) -> None:
    session = await open_openssh_session(target_for(sshd), Answers())
    directory = session.master.directory
    assert directory.exists()
    with anyio.fail_after(15):
        await session.aclose()
        await session.wait_closed()
    assert session.closed and not directory.exists()
    with pytest.raises(ConnectionError):
        await session.stat("/")


async def _handle_is_open(session: OpensshSession, handle: bytes, path: str) -> bool:
    try:
        await session.sftp.read_handle(handle, path, 0, 1, 1)
    except OSError:
        return False  # closed: the server no longer knows the handle
    return True


async def test_range_reads_reuse_one_handle_until_the_file_changes(
    session: OpensshSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = tmp_path / "ranges.bin"
    path = str(file)
    content = os.urandom(1024 * 1024 + 123)
    file.write_bytes(content)
    for offset, length in [(0, 700_000), (700_000, 300_000), (1_000_000, 200_000),
                           (len(content), 10), (len(content) + 5, 10)]:  # fmt: skip
        assert await session.read(path, offset, length) == content[offset : offset + length]
    first = session._handles[path].handle
    # Ranges in flight together, all on the one cached handle.
    async with anyio.create_task_group() as tg:
        got: dict[int, bytes] = {}

        async def fetch(at: int) -> None:
            got[at] = await session.read(path, at, 100_000)

        for at in range(100_000, 1_000_000, 100_000):
            tg.start_soon(fetch, at)
    assert all(data == content[at : at + 100_000] for at, data in got.items())
    assert session._handles[path].handle == first and await _handle_is_open(session, first, path)

    # Our own write drops (and closes) the handle; the next range opens the new file.
    await session.write(path, b"b" * 100)
    assert path not in session._handles and not await _handle_is_open(session, first, path)
    assert await session.read(path, 10, 10) == b"b" * 10
    second = session._handles[path].handle
    # Replaced behind our back: a transfer starting at 0 opens afresh and closes the old one.
    (tmp_path / "new.bin").write_bytes(b"c" * 100)
    os.replace(tmp_path / "new.bin", file)
    assert await session.read(path, 0, 10) == b"c" * 10
    assert await session.read(path, 10, 10) == b"c" * 10
    assert not await _handle_is_open(session, second, path)
    third = session._handles[path].handle
    await session.rename(path, path + ".moved")
    assert path not in session._handles and not await _handle_is_open(session, third, path)
    with pytest.raises(OSError) as info:
        await session.read(path, 10, 10)
    assert info.value.errno == errno.ENOENT
    with pytest.raises(OSError) as info:
        await session.read(str(tmp_path), 0, 10)
    assert info.value.errno == errno.EISDIR

    # An idle handle is closed in the background.
    monkeypatch.setattr("distant_plugins.ssh.openssh_backend.HANDLE_IDLE", 0.2)
    moved = path + ".moved"
    await session.read(moved, 0, 10)
    idle = session._handles[moved].handle
    with anyio.fail_after(5):
        while moved in session._handles:
            await anyio.sleep(0.05)
    assert not await _handle_is_open(session, idle, moved)
