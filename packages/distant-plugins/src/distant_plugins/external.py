"""External plugins: executables that implement ``connect`` and ``launch`` for some schemes
(§11 and the plugin binary specification; see this package's README, "External plugins").

``<path> connect|launch <destination> [--key=value ...]`` runs with its stdio piped, in a
session of its own. The setup phase (:mod:`.external_setup`) relays authentication and ends
with ``ready`` or ``destination``; a connect then carries binary frames on stdio
(:mod:`.external_link`). The plugin's stderr goes to the ``distant_plugins.external`` logger
line by line, for as long as the plugin runs.

Whatever happens (an error reported by the plugin, a timeout, a crash, garbage on stdout, a
cancelled request), the plugin's process group is stopped and the plugin reaped, and only the
request that used it fails: the manager goes on.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager

import anyio
import anyio.abc

from distant_codec import CodecError, Destination, ErrorKind, PluginDestination
from distant_manager import PluginError, ServerLink
from distant_net import AsyncAuthHandler

from .external_link import ProcessLink
from .external_process import (
    LOGGER_NAME,
    StderrPump,
    StdoutLines,
    close_streams,
    spawn,
    terminate,
)
from .external_setup import EXIT_WAIT, ExternalPluginError, SetupResult, run_setup

__all__ = ["ExternalPlugin", "ExternalPluginError", "SETUP_TIMEOUT", "plugin_argv"]

log = logging.getLogger(LOGGER_NAME)

SETUP_TIMEOUT = 120.0
"""Seconds a plugin may take to send its next setup message (specification: 120 s)."""

_STDERR_FLUSH = 0.5
"""Seconds to let the stderr reader catch up after the plugin stopped."""

_ERRNO_KINDS = {
    errno.ENOENT: ErrorKind.NOT_FOUND,
    errno.EACCES: ErrorKind.PERMISSION_DENIED,
    errno.EPERM: ErrorKind.PERMISSION_DENIED,
}


def plugin_argv(
    path: str, subcommand: str, destination: Destination, options: Mapping[str, str]
) -> list[str]:
    """The command line: the destination in full (a password included: the plugin needs
    it), then one ``--key=value`` flag per option."""
    return [path, subcommand, str(destination), *(f"--{k}={v}" for k, v in options.items())]


class ExternalPlugin:
    """A plugin executable registered for ``schemes`` (default: its name)."""

    def __init__(
        self,
        name: str,
        path: str,
        schemes: Iterable[str] | None = None,
        setup_timeout: float = SETUP_TIMEOUT,
    ) -> None:
        self.name = name
        self.path = path
        self.schemes: tuple[str, ...] = tuple(s.lower() for s in (schemes or (name,)))
        self.setup_timeout = setup_timeout
        self._live: set[anyio.abc.Process] = set()

    def __repr__(self) -> str:
        return f"ExternalPlugin(name={self.name!r}, path={self.path!r}, schemes={self.schemes!r})"

    @property
    def running(self) -> int:
        """How many plugin processes are running now."""
        return len(self._live)

    # -- connect -----------------------------------------------------------------------------

    @asynccontextmanager
    async def connect(
        self, destination: Destination, options: dict[str, str], auth: AsyncAuthHandler
    ) -> AsyncIterator[ServerLink]:
        process = await self._start("connect", destination, options)
        failure: PluginError | None = None
        body_error: Exception | None = None
        try:
            async with anyio.create_task_group() as tg:
                assert process.stdout is not None and process.stderr is not None
                stderr = StderrPump(self.name, process.stderr)
                tg.start_soon(stderr.run)
                lines = StdoutLines(process.stdout)
                _, failure = await self._setup(process, lines, stderr, auth, launch=False)
                if failure is None:
                    link = ProcessLink(self.name, process, lines.leftover())
                    tg.start_soon(link.pump)
                    log.info("plugin %r: connected to %s", self.name, destination.redacted())
                    try:
                        yield link
                    except Exception as exc:  # re-raised below, outside the task group
                        body_error = exc
                    finally:
                        await link.aclose("closed")
                await self._stop(process, stderr)
                tg.cancel_scope.cancel()
        finally:
            await self._release(process)
        if failure is not None:
            raise failure
        if body_error is not None:
            raise body_error

    # -- launch ------------------------------------------------------------------------------

    async def launch(
        self, destination: Destination, options: dict[str, str], auth: AsyncAuthHandler
    ) -> Destination:
        process = await self._start("launch", destination, options)
        failure: PluginError | None = None
        result: PluginDestination | None = None
        try:
            async with anyio.create_task_group() as tg:
                assert process.stdout is not None and process.stderr is not None
                stderr = StderrPump(self.name, process.stderr)
                tg.start_soon(stderr.run)
                lines = StdoutLines(process.stdout)
                found, failure = await self._setup(process, lines, stderr, auth, launch=True)
                if failure is None:
                    assert isinstance(found, PluginDestination)
                    result = found
                    with anyio.move_on_after(EXIT_WAIT):  # it should exit now, with 0
                        await process.wait()
                await self._stop(process, stderr)
                tg.cancel_scope.cancel()
        finally:
            await self._release(process)
        if failure is not None:
            raise failure
        assert result is not None
        try:
            launched = Destination.parse(result.destination)
        except CodecError as exc:
            raise ExternalPluginError(f"plugin {self.name!r}: invalid destination: {exc}") from None
        log.info("plugin %r: launched %s", self.name, launched.redacted())
        return launched

    # -- lifetime ----------------------------------------------------------------------------

    async def _setup(
        self,
        process: anyio.abc.Process,
        lines: StdoutLines,
        stderr: StderrPump,
        auth: AsyncAuthHandler,
        *,
        launch: bool,
    ) -> tuple[SetupResult | None, PluginError | None]:
        """The setup dialogue: ``(its final message, None)``, or ``(None, why it failed)``
        as one :class:`PluginError` (returned, not raised: the caller is inside the task
        group of the plugin's stderr pump, which would wrap it in an exception group)."""
        try:
            found = await run_setup(
                self.name, process, lines, stderr, auth,
                launch=launch, timeout=self.setup_timeout,
            )  # fmt: skip
        except PluginError as exc:  # the plugin's error, or the auth relay's
            return None, exc
        except Exception as exc:  # e.g. the user's link went away mid-dialogue
            return None, ExternalPluginError(f"plugin {self.name!r}: setup failed: {exc}")
        return found, None

    async def aclose(self) -> None:
        """Stop every plugin process still running."""
        with anyio.CancelScope(shield=True):
            for process in list(self._live):
                await terminate(process)

    async def _start(
        self, subcommand: str, destination: Destination, options: Mapping[str, str]
    ) -> anyio.abc.Process:
        argv = plugin_argv(self.path, subcommand, destination, options)
        log.info(
            "plugin %r: running %s %s %s%s",
            self.name, self.path, subcommand, destination.redacted(),
            "".join(f" --{key}=…" for key in options),
        )  # fmt: skip
        try:
            process = await spawn(argv)
        except OSError as exc:
            kind = _ERRNO_KINDS.get(exc.errno or 0, ErrorKind.OTHER)
            reason = exc.strerror or str(exc)
            raise ExternalPluginError(
                f"plugin {self.name!r}: cannot run {self.path}: {reason}", kind
            ) from None
        self._live.add(process)
        return process

    async def _stop(self, process: anyio.abc.Process, stderr: StderrPump) -> None:
        await terminate(process)
        await stderr.wait(_STDERR_FLUSH)

    async def _release(self, process: anyio.abc.Process) -> None:
        with anyio.CancelScope(shield=True):
            await terminate(process)
            await close_streams(process)
        self._live.discard(process)
        log.debug("plugin %r: pid %d reaped (%s)", self.name, process.pid, process.returncode)
