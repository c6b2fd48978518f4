"""End to end: ``distant launch ssh://…`` through a real manager, against a private sshd
whose sessions have only ``distant-server`` on their PATH (a host that ran ``pip install
distant-server``), then ``distant spawn`` through the launched server; plainly (the
manager reaches the server over TCP) and tunnelled (``ssh.tunnel=true``: through the ssh
connection, the server bound to the remote loopback)."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from distant_codec import format_options
from tests.cli.harness import Cli, ManagerProcess
from tests.support.sshd import SSHD, PrivateSshd


@pytest.fixture(scope="module")
def server_only_sshd() -> Iterator[tuple[PrivateSshd, Path]]:
    """The sshd, and a directory unique to it (the launched servers' working directory,
    by which they are found and stopped afterwards)."""
    if not os.path.exists(SSHD) or os.geteuid() != 0:
        pytest.skip("needs root and openssh-server (apt-get install openssh-server)")
    with tempfile.TemporaryDirectory(prefix="distant-e2e-launch-") as tmp:
        bindir, home = Path(tmp, "bin"), Path(tmp, "home")
        bindir.mkdir()
        home.mkdir()
        Path(tmp).chmod(0o755)
        entry = bindir / "distant-server"
        installed = Path(sys.executable).parent / "distant-server"
        if installed.exists():
            entry.symlink_to(installed)
        else:  # the same code as the entry point
            entry.write_text(f'#!/bin/sh\nexec {sys.executable} -m distant_server "$@"\n')
            entry.chmod(0o755)
        with PrivateSshd(extra_config=[f"SetEnv PATH={bindir}:/usr/bin:/bin HOME={home}"]) as s:
            try:
                yield s, home
            finally:
                _stop_servers_in(home)


def _stop_servers_in(directory: Path) -> None:
    """Terminate the launched servers (daemons: not our children) by their pid, found by
    their ``--current-dir``."""
    marker = str(directory).encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path("/proc", entry, "cmdline").read_bytes()
        except OSError:
            continue
        if b"distant_server" in cmdline and marker in cmdline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(entry), signal.SIGTERM)


@pytest.fixture
def manager(tmp_path: Path) -> Iterator[Cli]:
    process = ManagerProcess(tmp_path / "manager").start()
    try:
        yield Cli(process.socket, tmp_path / "cache.toml", tmp_path)
    finally:
        process.stop()


@pytest.mark.parametrize("tunnel", [False, True], ids=["tcp", "tunnelled"])
def test_launch_over_ssh_then_spawn(
    server_only_sshd: tuple[PrivateSshd, Path], manager: Cli, tunnel: bool
) -> None:
    sshd, home = server_only_sshd
    options = {
        "identity_files": str(sshd.client_key),
        "user_known_hosts_files": str(sshd.known_hosts),
        "identities_only": "true",
    }
    if tunnel:
        options["ssh.tunnel"] = "true"
    launched = manager.run(
        "launch",
        f"ssh://{sshd.user}@{sshd.host}:{sshd.port}",
        "--options",
        format_options(options),
        "--distant-args",
        f"--current-dir {home} --shutdown lonely=30",
        timeout=60,
    )
    assert launched.returncode == 0, launched.stderr
    connection_id = launched.stdout.strip()
    assert connection_id.isdigit(), launched.stdout

    spawned = manager.run("spawn", "--", "sh", "-c", "echo hi; pwd")
    assert spawned.returncode == 0, spawned.stderr
    assert spawned.stdout.splitlines() == ["hi", str(home)]

    status = manager.run("status", "--format", "json")
    assert status.returncode == 0, status.stderr
    scheme = "ssh://" if tunnel else "distant://"
    assert scheme in status.stdout
