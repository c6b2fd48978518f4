"""Launching a distant server over ssh: the remote command line, the bind address, and the
credentials search, against a real private sshd whose sessions only have a
``distant-server`` on their PATH (as after ``pip install distant-server``)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from tests.support.sshd import SSHD, PrivateSshd

from distant_manager import PluginError
from distant_net import AsyncAuthHandler
from distant_plugins.ssh.launch import (
    complete_lines,
    find_detached_pid,
    resolve_bind,
    server_command,
    start_server,
)
from distant_plugins.ssh.options import LaunchSettings, SshOptions, build_target
from distant_plugins.ssh.plugin import open_session
from distant_plugins.ssh.session import SshSession

from ._auth import NoPrompts as Accepting

KEY = "ab" * 32

# -- the command line (no ssh needed) -----------------------------------------------------------


def test_command_with_a_named_binary_is_upstreams() -> None:
    settings = LaunchSettings(bin="/opt/bin/distant", args="--log-level trace")
    assert (
        server_command(settings, "10.0.0.1")
        == "/opt/bin/distant server listen --daemon --host 10.0.0.1 --log-level trace"
    )


def test_command_with_a_distant_server_binary_has_no_server_subcommand() -> None:
    settings = LaunchSettings(bin="~/.local/bin/distant-server")
    assert (
        server_command(settings, "any") == "~/.local/bin/distant-server listen --daemon --host any"
    )


def _run_locally(command: str, path: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/bin/sh", "-c", command],
        env={"PATH": path},
        capture_output=True,
        text=True,
        check=False,
        timeout=10,
    )


def _fake(directory: Path, name: str) -> None:
    script = directory / name
    script.write_text(f'#!/bin/sh\necho "{name}" "$@"\n')
    script.chmod(0o755)


@pytest.mark.parametrize(
    ("present", "expected"),
    [
        (["distant", "distant-server"], "distant server listen"),
        (["distant-server"], "distant-server listen"),
    ],
)
def test_default_command_prefers_distant_then_distant_server(
    tmp_path: Path, present: list[str], expected: str
) -> None:
    for name in present:
        _fake(tmp_path, name)
    command = server_command(LaunchSettings(args="--port '8000:8010' --shutdown lonely=5"), "::1")
    result = _run_locally(command, f"{tmp_path}:/usr/bin:/bin")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        *expected.split(),
        "--daemon",
        "--host",
        "::1",
        "--port",
        "8000:8010",
        "--shutdown",
        "lonely=5",
    ]


def test_default_command_without_any_server_exits_127(tmp_path: Path) -> None:
    result = _run_locally(server_command(LaunchSettings(), "any"), f"{tmp_path}:/usr/bin:/bin")
    assert result.returncode == 127


def test_credentials_only_in_complete_lines() -> None:
    assert complete_lines("a\r\nb") == "a\r\n"
    assert complete_lines("no break") == ""
    assert complete_lines("x\r") == "x\r"
    assert find_detached_pid("[distant server detached, pid = 4242]\n") == 4242
    assert find_detached_pid("nothing") is None


# -- against a real sshd ----------------------------------------------------------------------


def _server_entry_point(directory: Path) -> None:
    """``distant-server`` in ``directory``: the installed entry point when there is one next
    to this Python, else a script running ``python -m distant_server`` (the same code)."""
    target = directory / "distant-server"
    installed = Path(sys.executable).parent / "distant-server"
    if installed.exists():
        target.symlink_to(installed)
        return
    target.write_text(f'#!/bin/sh\nexec {sys.executable} -m distant_server "$@"\n')
    target.chmod(0o755)


@contextlib.contextmanager
def server_only_sshd() -> Iterator[PrivateSshd]:
    """A private sshd whose sessions see PATH = a directory holding only
    ``distant-server``, plus the system directories; HOME is an empty directory, so no
    start-up file of the logged-in user puts anything else on the PATH."""
    with tempfile.TemporaryDirectory(prefix="distant-launch-") as tmp:
        bindir, home = Path(tmp, "bin"), Path(tmp, "home")
        bindir.mkdir()
        home.mkdir()
        Path(tmp).chmod(0o755)
        _server_entry_point(bindir)
        with PrivateSshd(extra_config=[f"SetEnv PATH={bindir}:/usr/bin:/bin HOME={home}"]) as sshd:
            yield sshd


def ssh_options(sshd: PrivateSshd) -> dict[str, str]:
    return {
        "identity_files": str(sshd.client_key),
        "user_known_hosts_files": str(sshd.known_hosts),
        "identities_only": "true",
    }


def kill_daemon(pid: int | None) -> None:
    if pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)


@pytest.fixture(scope="module")
def sshd() -> Iterator[PrivateSshd]:
    if not os.path.exists(SSHD) or os.geteuid() != 0:
        pytest.skip("needs root and openssh-server (apt-get install openssh-server)")
    with server_only_sshd() as server:
        yield server


@pytest.fixture
def anyio_backend() -> str:
    return "trio"  # the manager's backend; asyncssh runs through trio-asyncio


@contextlib.asynccontextmanager
async def session_to(sshd: PrivateSshd) -> AsyncIterator[SshSession]:
    from distant_codec import Destination

    target = build_target(
        Destination(sshd.host, "ssh", sshd.user, None, sshd.port),
        SshOptions(
            identity_files=(str(sshd.client_key),),
            identities_only=True,
            user_known_hosts_files=(str(sshd.known_hosts),),
        ),
    )
    auth: AsyncAuthHandler = Accepting()  # type: ignore[assignment]
    async with open_session("asyncssh", target, auth) as session:
        yield session


@pytest.mark.anyio
async def test_bind_ssh_is_the_address_the_connection_came_in_on(sshd: PrivateSshd) -> None:
    async with session_to(sshd) as session:
        assert await resolve_bind(session, "ssh") == "127.0.0.1"
        assert await resolve_bind(session, "any") == "any"
        assert await resolve_bind(session, "10.9.8.7") == "10.9.8.7"


@pytest.mark.anyio
async def test_launch_finds_distant_server_and_its_credentials(sshd: PrivateSshd) -> None:
    async with session_to(sshd) as session:
        launched = await start_server(session, server_command(LaunchSettings(), "127.0.0.1"), 15)
    try:
        creds = launched.credentials
        assert creds.scheme == "distant"
        assert creds.host == "127.0.0.1"
        assert creds.password is not None and len(creds.password) == 64
        assert launched.pid is not None
        # It outlived the ssh session (--daemon) and listens where it said.
        os.kill(launched.pid, 0)
        assert creds.port is not None
        with socket.create_connection((creds.host, creds.port), timeout=5) as sock:
            assert sock.getpeername()[1] == creds.port
    finally:
        kill_daemon(launched.pid)


@pytest.mark.anyio
async def test_launch_with_a_named_distant_server_binary(sshd: PrivateSshd) -> None:
    binary = Path(_session_path(sshd).split(":")[0], "distant-server")
    settings = LaunchSettings(bin=str(binary), args="--shutdown lonely=30")
    async with session_to(sshd) as session:
        launched = await start_server(session, server_command(settings, "127.0.0.1"), 15)
    kill_daemon(launched.pid)
    assert launched.credentials.port is not None


def _session_path(sshd: PrivateSshd) -> str:
    for line in sshd.extra_config:
        if line.startswith("SetEnv PATH="):
            return line.split()[1].removeprefix("PATH=")
    raise AssertionError("no PATH in the sshd config")


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("bin", "timeout", "error"),
    [
        ("/nonexistent/distant", 15, r"no distant server program .*exit 127.*--distant"),
        (
            "sh -c 'echo boom >&2; exit 3'",
            15,
            r"exited with code 3 before it was ready: boom",
        ),
        (
            "echo distant://:short@127.0.0.1:1; sleep 3; true",
            0.5,
            r"printed no credentials in 0\.5 s",
        ),
    ],
    ids=["no-server-program", "server-fails", "no-credentials-in-time"],
)
async def test_launch_failures_say_why(
    sshd: PrivateSshd, bin: str, timeout: float, error: str
) -> None:
    """A missing server program, one that exits early (its code and stderr), and one that
    never prints credentials (the timeout): each a clear PluginError."""
    async with session_to(sshd) as session:
        with pytest.raises(PluginError, match=error):
            await start_server(
                session, server_command(LaunchSettings(bin=bin), "127.0.0.1"), timeout
            )
