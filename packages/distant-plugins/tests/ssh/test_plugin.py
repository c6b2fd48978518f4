"""SshPlugin against a real private sshd whose sessions only have ``distant-server`` on
their PATH: launch (then connect with the distant plugin, as the manager does), the
tunnelled launch (the server reached through the ssh connection), the link ending when ssh
drops, and the errors a user sees."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from tests.support.sshd import SSHD, PrivateSshd

from distant_codec import (
    Destination,
    UntypedRequest,
    UntypedResponse,
    packb,
    unpackb,
)
from distant_manager import DistantPlugin, PluginError, ServerLink
from distant_net import AsyncAuthHandler
from distant_plugins.ssh.plugin import SshPlugin

from ._auth import NoPrompts

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "trio"  # the manager's backend; asyncssh runs through trio-asyncio


AUTH: AsyncAuthHandler = NoPrompts()  # type: ignore[assignment]


def _server_entry_point(directory: Path) -> None:
    target = directory / "distant-server"
    installed = Path(sys.executable).parent / "distant-server"
    if installed.exists():
        target.symlink_to(installed)
        return
    target.write_text(f'#!/bin/sh\nexec {sys.executable} -m distant_server "$@"\n')
    target.chmod(0o755)


@pytest.fixture(scope="module")
def sshd() -> Iterator[PrivateSshd]:
    """PATH = a directory with only ``distant-server`` + the system directories; an empty
    HOME so no start-up file adds anything."""
    if not os.path.exists(SSHD) or os.geteuid() != 0:
        pytest.skip("needs root and openssh-server (apt-get install openssh-server)")
    with tempfile.TemporaryDirectory(prefix="distant-launch-") as tmp:
        bindir, home = Path(tmp, "bin"), Path(tmp, "home")
        bindir.mkdir()
        home.mkdir()
        Path(tmp).chmod(0o755)
        _server_entry_point(bindir)
        with PrivateSshd(extra_config=[f"SetEnv PATH={bindir}:/usr/bin:/bin HOME={home}"]) as s:
            yield s


def destination(sshd: PrivateSshd) -> Destination:
    return Destination.parse(f"ssh://{sshd.user}@{sshd.host}:{sshd.port}")


def options(sshd: PrivateSshd, **extra: str) -> dict[str, str]:
    return {
        "ssh.identity_files": str(sshd.client_key),
        "ssh.user_known_hosts_files": str(sshd.known_hosts),
        "identities_only": "yes",
        # A safety net: a server a test fails to kill goes away by itself.
        "distant.args": "--shutdown lonely=20",
        **extra,
    }


@pytest.fixture
def launched_pids(caplog: pytest.LogCaptureFixture) -> Iterator[list[int]]:
    """The pids of the servers launched during the test (from the plugin's log); they
    are terminated afterwards."""
    caplog.set_level(logging.INFO, logger="distant_plugins.ssh")
    pids: list[int] = []
    yield pids
    for record in caplog.get_records("call"):
        if record.getMessage().startswith("launched server at port"):
            pid = record.args[1] if isinstance(record.args, tuple) else None
            if isinstance(pid, int):
                pids.append(pid)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)


async def exists(link: ServerLink, path: str, rid: str = "1") -> bool:
    await link.send(UntypedRequest(rid, packb({"type": "exists", "path": path})).to_bytes())
    async for item in link:
        response = UntypedResponse.from_bytes(item)
        assert response.origin_id == rid
        payload = unpackb(response.payload)
        assert payload["type"] == "exists", payload
        return bool(payload["value"])
    raise AssertionError(f"the link closed: {link.close_reason}")


BACKENDS = pytest.mark.parametrize("backend", ["asyncssh", "openssh"])


@BACKENDS
async def test_launch_then_connect_with_the_distant_plugin(
    sshd: PrivateSshd, launched_pids: list[int], tmp_path: Path, backend: str
) -> None:
    plugin = SshPlugin()
    launched = await plugin.launch(destination(sshd), options(sshd, backend=backend), AUTH)
    # distant://:KEY@<the ssh host>:PORT, the form the CLI then connects to.
    assert launched.scheme == "distant"
    assert launched.host == sshd.host
    assert launched.port not in (None, sshd.port)
    assert launched.password is not None and len(launched.password) == 64
    assert Destination.parse(str(launched)) == launched
    (tmp_path / "marker").write_text("x")
    distant = DistantPlugin()
    async with distant.connect(launched, {}, AUTH) as link:
        assert await exists(link, str(tmp_path / "marker"))
        assert not await exists(link, str(tmp_path / "missing"), "2")
    await plugin.aclose()


@BACKENDS
async def test_tunnelled_launch_reaches_the_server_through_ssh(
    sshd: PrivateSshd, launched_pids: list[int], tmp_path: Path, backend: str
) -> None:
    plugin = SshPlugin()
    launched = await plugin.launch(
        destination(sshd), options(sshd, tunnel="true", backend=backend), AUTH
    )
    # An ssh destination carrying the key, so the manager's connect comes back here.
    assert launched.scheme == "ssh"
    assert (launched.host, launched.port, launched.username) == (sshd.host, sshd.port, sshd.user)
    assert launched.password is not None and len(launched.password) == 64
    (tmp_path / "marker").write_text("x")
    # The manager connects to the text of the destination, without options.
    again = Destination.parse(str(launched))
    async with plugin.connect(again, {}, AUTH) as link:
        assert await exists(link, str(tmp_path / "marker"))
    # Connecting again works (a new ssh session each time).
    async with plugin.connect(again, {}, AUTH) as link:
        assert await exists(link, str(tmp_path / "marker"), "2")
    await plugin.aclose()


def _sshd_session_pids(sshd: PrivateSshd) -> set[int]:
    """The per-connection children of our sshd."""
    out = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(sshd.pid)], capture_output=True, text=True, check=False
    ).stdout
    return {int(p) for p in out.split()}


@pytest.mark.parametrize("anyio_backend", ["trio", "asyncio"])
async def test_tunnelled_link_ends_when_the_ssh_connection_drops(
    sshd: PrivateSshd, launched_pids: list[int]
) -> None:
    plugin = SshPlugin()
    launched = await plugin.launch(destination(sshd), options(sshd, tunnel="yes"), AUTH)
    before = _sshd_session_pids(sshd)
    async with plugin.connect(launched, {}, AUTH) as link:
        assert await exists(link, "/")
        ours = _sshd_session_pids(sshd) - before
        assert ours, "no sshd process for the tunnel's ssh connection"
        for pid in ours:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with anyio.fail_after(10):
            async for _ in link:
                pass
        assert link.closed
        assert "ssh connection was lost" in (link.close_reason or "")
    await plugin.aclose()


async def test_a_tunnelled_destination_from_another_manager_is_refused(sshd: PrivateSshd) -> None:
    plugin = SshPlugin()
    foreign = Destination.parse(f"ssh://{sshd.user}:{'ab' * 32}@{sshd.host}:{sshd.port}")
    with pytest.raises(PluginError, match="tunnelled launch this manager does not know"):
        async with plugin.connect(foreign, {}, AUTH):
            pass


async def test_launch_errors_are_plugin_errors(sshd: PrivateSshd) -> None:
    plugin = SshPlugin()
    with pytest.raises(PluginError, match=r"unknown backend 'putty'"):
        await plugin.launch(destination(sshd), options(sshd, backend="putty"), AUTH)
    with pytest.raises(PluginError, match=r"ssh\.verbose: expected true/false"):
        await plugin.launch(destination(sshd), options(sshd, verbose="loud"), AUTH)
    with pytest.raises(PluginError, match=r"no distant server program"):
        await plugin.launch(
            destination(sshd), options(sshd, **{"distant.bin": "/nonexistent/distant"}), AUTH
        )
    # Nothing listens on port 1 of the loopback.
    closed = Destination.parse(f"ssh://{sshd.user}@127.0.0.1:1")
    with pytest.raises(PluginError, match=r"refused"):
        await plugin.launch(closed, options(sshd), AUTH)


# -- connect: the distant API served over ssh ------------------------------------------------


async def _wait_for_no_new_sessions(sshd: PrivateSshd, before: set[int]) -> None:
    with anyio.fail_after(10):
        while _sshd_session_pids(sshd) - before:
            await anyio.sleep(0.05)


@BACKENDS
async def test_connect_serves_the_api_and_closes_the_session_at_the_end(
    sshd: PrivateSshd, tmp_path: Path, backend: str
) -> None:
    plugin = SshPlugin()
    (tmp_path / "marker").write_text("x")
    before = _sshd_session_pids(sshd)
    async with plugin.connect(destination(sshd), options(sshd, backend=backend), AUTH) as link:
        assert await exists(link, str(tmp_path / "marker"))
        assert not await exists(link, str(tmp_path / "missing"), "2")
        assert _sshd_session_pids(sshd) - before
    # The ssh connection ended with the link.
    await _wait_for_no_new_sessions(sshd, before)
    await plugin.aclose()


async def test_connect_link_ends_when_the_ssh_connection_drops(sshd: PrivateSshd) -> None:
    plugin = SshPlugin()
    before = _sshd_session_pids(sshd)
    async with plugin.connect(destination(sshd), options(sshd), AUTH) as link:
        assert await exists(link, "/")
        for pid in _sshd_session_pids(sshd) - before:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with anyio.fail_after(10):
            async for _ in link:
                pass
        assert link.closed
        assert "ssh connection was lost" in (link.close_reason or "")


async def test_connect_with_a_bad_option_is_a_plugin_error(sshd: PrivateSshd) -> None:
    with pytest.raises(PluginError, match=r"ssh\.identities_only: expected true/false"):
        async with SshPlugin().connect(
            destination(sshd), options(sshd, identities_only="perhaps"), AUTH
        ):
            pass
