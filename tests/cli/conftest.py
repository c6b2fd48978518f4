"""Fixtures for the CLI tests: real ``distant`` processes against a real manager.

* ``cli`` (session-scoped, parametrized by backend): a manager and a connection launched
  for that backend; shared by the tests that do not change the manager's state.
* ``fresh``: a manager of the test's own with one launched connection, for tests that kill
  or select connections.
* ``no_manager``: a :class:`~tests.cli.harness.Cli` whose socket path has nothing behind it.

Backends: ``host`` (``distant launch manager://localhost``). ssh and docker are added to
``BACKENDS`` by later issues; every test that takes ``cli`` then runs against each.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.harness import Cli, CliSession, start_session

BACKENDS = ["host"]


@pytest.fixture(scope="session", params=BACKENDS)
def cli(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CliSession]:
    session = start_session(request.param, tmp_path_factory.mktemp(f"cli-{request.param}"))
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
