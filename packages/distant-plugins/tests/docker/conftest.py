"""Docker fixtures: a real engine (``tests/support/dockerd.py``), one busybox container and
one container without a shell per session; skipped without an engine unless
``DISTANT_REQUIRE_DOCKER=1``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from tests.support.dockerd import (
    DockerUnavailable,
    RunningContainer,
    docker_host,
    ensure_busybox_image,
    ensure_shell_less_image,
)


@pytest.fixture
def anyio_backend() -> str:
    return "trio"


@pytest.fixture(scope="session")
def engine_host() -> str:
    try:
        return docker_host()
    except DockerUnavailable as exc:
        if os.environ.get("DISTANT_REQUIRE_DOCKER") == "1":
            pytest.fail(str(exc))
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def docker_client(engine_host: str) -> Iterator[Any]:
    import docker

    client = docker.DockerClient(base_url=engine_host)
    yield client
    client.close()


@pytest.fixture(scope="session")
def busybox(engine_host: str) -> Iterator[RunningContainer]:
    with RunningContainer(engine_host, ensure_busybox_image(engine_host)) as container:
        yield container


@pytest.fixture(scope="session")
def noshell(engine_host: str) -> Iterator[RunningContainer]:
    image = ensure_shell_less_image(engine_host)
    with RunningContainer(engine_host, image, command=["/sleep", "2147483647"]) as container:
        yield container
