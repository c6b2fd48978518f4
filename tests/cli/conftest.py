"""Fixtures for the CLI tests: real ``distant`` processes against a real manager.

* ``cli`` (session-scoped, parametrized by backend): a manager and a connection made for
  that backend; shared by the tests that do not change the manager's state. Every test
  that takes ``cli`` runs against each backend (the parity tests).
* ``fresh``: a manager of the test's own with one launched connection, for tests that kill
  or select connections.
* ``no_manager``: a :class:`~tests.cli.harness.Cli` whose socket path has nothing behind it.

Backends:

* ``host``: ``distant launch manager://localhost`` (a local ``distant-server``);
* ``ssh``: ``distant connect ssh://...`` to a private OpenSSH ``sshd`` on 127.0.0.1 with
  generated keys, through the default ``asyncssh`` backend;
* ``ssh-openssh``: the same sshd through the ``openssh`` backend (the system ``ssh`` with a
  ControlMaster);
* ``docker``: ``distant connect docker://...`` to a busybox container of a real Docker
  engine (``tests/support/dockerd.py``).

What a backend cannot do is skipped with the reason (:func:`skip_unless`), never silently.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from distant_codec import format_options
from tests.cli.harness import HOST_COMMAND, Cli, CliSession, start_session
from tests.support.sshd import PrivateSshd, SshdUnavailable

BACKENDS = ["host", "ssh", "ssh-openssh", "docker"]

UNSUPPORTED: dict[str, dict[str, str]] = {
    "docker": {
        "watch": "the docker backend has no file watch (not implemented; busybox lacks inotify)",
        "reverse_tunnel": "the docker backend has no remote listener (exec cannot accept)",
    },
}
"""What each backend cannot do, with the reason shown when a test is skipped."""

SAME_PROCESS_NAMESPACE = ("host", "ssh", "ssh-openssh")
"""Backends whose remote processes run in this machine's pid namespace (not docker's)."""


def skip_unless(cli: CliSession, feature: str) -> None:
    """Skip the calling test, saying why, when ``cli``'s backend lacks ``feature``."""
    reason = UNSUPPORTED.get(cli.backend, {}).get(feature)
    if reason is not None:
        pytest.skip(f"{cli.backend}: {reason}")


@pytest.fixture(scope="session")
def private_sshd() -> Iterator[PrivateSshd]:
    try:
        sshd = PrivateSshd().__enter__()
    except SshdUnavailable as exc:
        pytest.skip(str(exc))
    try:
        yield sshd
    finally:
        sshd.stop()


@pytest.fixture(scope="session")
def docker_container() -> Iterator[str]:
    """The name of a running busybox container (network: the host's)."""
    from tests.support.dockerd import (
        DockerUnavailable,
        RunningContainer,
        docker_host,
        ensure_busybox_image,
    )

    try:
        host = docker_host()
    except DockerUnavailable as exc:
        if os.environ.get("DISTANT_REQUIRE_DOCKER") == "1":
            raise
        pytest.skip(str(exc))
    # The managers the tests start inherit this, so their docker plugin finds the engine.
    os.environ["DOCKER_HOST"] = host
    with RunningContainer(host, ensure_busybox_image(host)) as container:
        yield container.name


def _ssh_command(sshd: PrivateSshd, backend: str) -> tuple[str, ...]:
    options = {
        "identity_files": str(sshd.client_key),
        "identities_only": "true",
        "user_known_hosts_files": str(sshd.known_hosts),
    }
    if backend == "ssh-openssh":
        options["backend"] = "openssh"
    destination = f"ssh://{sshd.user}@{sshd.host}:{sshd.port}"
    return ("connect", destination, "--options", format_options(options))


def _connect_command(request: pytest.FixtureRequest, backend: str) -> tuple[str, ...]:
    if backend == "host":
        return HOST_COMMAND
    if backend in ("ssh", "ssh-openssh"):
        return _ssh_command(request.getfixturevalue("private_sshd"), backend)
    if backend == "docker":
        return ("connect", f"docker://{request.getfixturevalue('docker_container')}")
    raise ValueError(backend)


@pytest.fixture(scope="session", params=BACKENDS)
def cli(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CliSession]:
    backend: str = request.param
    command = _connect_command(request, backend)
    session = start_session(backend, tmp_path_factory.mktemp(f"cli-{backend}"), command)
    try:
        yield session
    finally:
        session.manager.stop()


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[CliSession]:
    session = start_session("host", tmp_path / "fresh")
    try:
        yield session
    finally:
        session.manager.stop()


@pytest.fixture
def no_manager(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "nothing.sock", tmp_path / "cache.toml", tmp_path)
