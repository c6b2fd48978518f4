"""``distant ssh``: connect through the manager's ssh plugin and run a terminal, end to end
against the private sshd (both backends)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from distant_codec import format_options
from tests.cli.harness import Cli, ManagerProcess
from tests.support.sshd import PrivateSshd


@pytest.fixture
def manager(tmp_path: Path) -> Iterator[Cli]:
    process = ManagerProcess(tmp_path).start()
    try:
        yield Cli(process.socket, tmp_path / "cache.toml", tmp_path)
    finally:
        process.stop()


@pytest.mark.parametrize("backend", ["asyncssh", "openssh"])
def test_ssh_runs_a_command_and_reuses_the_connection(
    manager: Cli, private_sshd: PrivateSshd, backend: str
) -> None:
    sshd = private_sshd
    options = format_options(
        {
            "identity_files": str(sshd.client_key),
            "identities_only": "true",
            "user_known_hosts_files": str(sshd.known_hosts),
            "backend": backend,
        }
    )
    destination = f"{sshd.user}@{sshd.host}:{sshd.port}"
    args = ("ssh", "--options", options, destination, "--", "sh", "-c", "echo hi $((6*7)); exit 3")
    done = manager.run(*args, timeout=60)
    assert done.returncode == 3, done.stderr
    assert "hi 42" in done.stdout
    status = manager.run("status")
    assert f"ssh://{destination}" in status.stderr, status.stderr
    # A second ssh to the same destination reuses the connection (no new one listed).
    again = manager.run(*args, timeout=60)
    assert again.returncode == 3, again.stderr
    listed = manager.run("status").stderr
    assert listed.count(f"ssh://{destination}") == 1, listed


def test_ssh_refuses_an_unknown_host_key_without_a_terminal(
    manager: Cli, private_sshd: PrivateSshd, tmp_path: Path
) -> None:
    """An empty known_hosts: the host key must be confirmed by the user; with no terminal
    to ask on, the connection is refused (never accepted silently)."""
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    sshd = private_sshd
    options = format_options(
        {
            "identity_files": str(sshd.client_key),
            "identities_only": "true",
            "user_known_hosts_files": str(empty),
        }
    )
    done = manager.run(
        "ssh", "--options", options, f"{sshd.user}@{sshd.host}:{sshd.port}", "--", "true",
        input="", timeout=60,
    )  # fmt: skip
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "error: " in done.stderr
    assert "host key" in done.stderr.lower(), done.stderr
    assert empty.read_text() == ""


@pytest.mark.parametrize("backend", ["asyncssh", "openssh"])
def test_json_connect_relays_the_host_key_for_confirmation(
    manager: Cli, private_sshd: PrivateSshd, tmp_path: Path, backend: str
) -> None:
    """``connect --format json``: the unknown host key arrives as an ``auth_verification``
    of kind ``host``; answering ``valid: true`` connects (and the key is remembered)."""
    import json

    empty = tmp_path / f"known_hosts-{backend}"
    empty.write_text("")
    sshd = private_sshd
    options = format_options(
        {
            "identity_files": str(sshd.client_key),
            "identities_only": "true",
            "user_known_hosts_files": str(empty),
            "backend": backend,
        }
    )
    done = manager.run(
        "connect", "--format", "json", "--options", options,
        f"ssh://{sshd.user}@{sshd.host}:{sshd.port}",
        input='{"type":"auth_initialization_response","methods":["none"]}\n'
        '{"type":"auth_verification_response","valid":true}\n',
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, (done.stdout, done.stderr)
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    asked = [m for m in lines if m.get("type") == "auth_verification"]
    assert len(asked) == 1 and asked[0]["kind"] == "host", lines
    assert any(m.get("type") == "connected" for m in lines), lines
    assert empty.read_text().strip(), "the accepted key is remembered in known_hosts"
