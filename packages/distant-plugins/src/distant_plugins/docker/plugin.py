"""The built-in ``docker`` plugin: ``distant connect docker://CONTAINER``.

The container is named by the destination's host (``docker://my-container``; an id works
too). The engine is the one ``DOCKER_HOST`` names (``docker.from_env()``), unless the
``docker.host`` (or ``host``) option gives another. The container must exist and be
running. The connection serves a :class:`~distant_plugins.docker.api.DockerApi` in this
process (no distant server runs in the container). ``launch`` is not supported.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread

from distant_codec import Destination
from distant_manager import PluginError, ServerLink
from distant_net import AsyncAuthHandler
from distant_plugins.in_process import serve_api

__all__ = ["DockerPlugin"]


def _open_client(host: str | None) -> Any:
    import docker  # the SDK loads only when a docker connection is made

    if host:
        return docker.DockerClient(base_url=host)
    return docker.from_env()


def _find_container(client: Any, name: str) -> str:
    """The running container's id; ``PluginError`` when missing or stopped."""
    import docker.errors

    try:
        container = client.containers.get(name)
    except docker.errors.NotFound:
        raise PluginError(f"docker: no such container '{name}'") from None
    except docker.errors.APIError as exc:
        raise PluginError(f"docker: {exc.explanation or exc}") from None
    if container.status != "running":
        raise PluginError(f"docker: container '{name}' is not running ({container.status})")
    return str(container.id)


class DockerPlugin:
    """``docker://`` connections to containers of a Docker engine."""

    name = "docker"
    schemes: tuple[str, ...] = ("docker",)

    @asynccontextmanager
    async def connect(
        self, destination: Destination, options: dict[str, str], auth: AsyncAuthHandler
    ) -> AsyncIterator[ServerLink]:
        from .api import DockerApi

        host = options.get("docker.host") or options.get("host")
        name = destination.host
        try:
            client = await anyio.to_thread.run_sync(_open_client, host)
        except Exception as exc:
            raise PluginError(f"docker: cannot reach the engine: {exc}") from None
        try:
            try:
                container_id = await anyio.to_thread.run_sync(
                    functools.partial(_find_container, client, name)
                )
            except PluginError:
                raise
            except Exception as exc:
                raise PluginError(f"docker: cannot reach the engine: {exc}") from None
            api = DockerApi(client, container_id)
            await api.probe()
            async with serve_api(api) as link:
                yield link
        finally:
            await anyio.to_thread.run_sync(client.close)

    async def launch(
        self, destination: Destination, options: dict[str, str], auth: AsyncAuthHandler
    ) -> Destination:
        raise PluginError(
            "docker: launch is not supported; use `distant connect docker://CONTAINER`"
        )

    async def aclose(self) -> None:
        """Nothing to release: every connection closes its own client."""
