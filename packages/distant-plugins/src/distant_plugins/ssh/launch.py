"""Starting a distant server over ssh (launch seed, §8.1 and §8.2).

The remote command is one shell line run by the remote user's shell:

* with ``--distant BIN`` (option ``distant.bin``): ``BIN server listen --daemon --host H ARGS``,
  as upstream; when BIN's program is named ``distant-server`` (the entry point of
  ``pip install distant-server``, which has no ``server`` sub-command) it is
  ``BIN listen --daemon --host H ARGS``;
* without it: ``distant server listen …`` when a ``distant`` is on the remote PATH (upstream's
  binary and our CLI both have ``server listen``), else ``distant-server listen …``. The
  choice is made on the remote by ``sh -c 'if command -v distant …; then exec distant server
  listen "$@"; else exec distant-server listen "$@"; fi' sh ARGS``, so it works whatever the
  login shell is, and the arguments reach the server exactly as quoted.

``ARGS`` (``--distant-args``) is appended as given, so the remote shell splits and expands it
(as upstream does). ``--daemon`` makes the server outlive the ssh session: the parent prints
``[distant server detached, pid = N]`` and exits once the detached child printed its
credentials. They are found in the accumulated stdout with the lax finder of §8.1, only in
complete lines (a port cut between two reads must not be taken for a shorter one).

Bind address (``--distant-bind-server``): ``ssh`` is the address the ssh connection came in
on, the third field of ``$SSH_CONNECTION`` read on the remote before the launch (upstream);
``any`` and an IP are passed through. The tunnelled launch binds ``127.0.0.1``.
"""

from __future__ import annotations

import logging
import re
import shlex
from dataclasses import dataclass

import anyio

from distant_codec import Destination, find_credentials
from distant_manager import PluginError

from .options import LaunchSettings
from .session import RemoteProcess, SshSession

__all__ = [
    "LaunchedServer",
    "server_command",
    "resolve_bind",
    "start_server",
    "find_detached_pid",
    "complete_lines",
]

log = logging.getLogger("distant_plugins.ssh")

_DETACHED = re.compile(r"\[distant server detached, pid = (\d+)\]")
_OUTPUT_LIMIT = 64 * 1024
"""Bytes of stdout/stderr kept for the credentials search and error messages."""
_EXIT_GRACE = 2.0
"""Seconds to let the detaching parent exit once the credentials are in."""

_FALLBACK_SCRIPT = (
    "if command -v distant >/dev/null 2>&1; "
    'then exec distant server listen "$@"; '
    'else exec distant-server listen "$@"; fi'
)


@dataclass(frozen=True, slots=True)
class LaunchedServer:
    """What the launch reported: the credentials and, with ``--daemon``, the server's pid."""

    credentials: Destination
    pid: int | None


def server_command(settings: LaunchSettings, host: str) -> str:
    """The remote shell line that starts the server bound to ``host``."""
    flags = f"--daemon --host {shlex.quote(host)}"
    args = settings.args.strip()
    tail = f" {args}" if args else ""
    if settings.bin:
        try:
            program = shlex.split(settings.bin)[0]
        except (ValueError, IndexError):
            program = settings.bin
        sub = "listen" if program.rsplit("/", 1)[-1] == "distant-server" else "server listen"
        return f"{settings.bin} {sub} {flags}{tail}"
    return f"sh -c {shlex.quote(_FALLBACK_SCRIPT)} sh {flags}{tail}"


async def resolve_bind(session: SshSession, bind: str) -> str:
    """``ssh`` → the remote address of this ssh connection (``$SSH_CONNECTION``'s third
    field); ``any`` and IP addresses unchanged."""
    if bind != "ssh":
        return bind
    code, out, err = await session.run('echo "$SSH_CONNECTION"')
    fields = out.decode("utf-8", "replace").split()
    if code != 0 or len(fields) != 4:
        detail = err.decode("utf-8", "replace").strip() or "SSH_CONNECTION is not set"
        raise PluginError(
            f"cannot find the address the ssh connection came in on ({detail}); "
            "use --distant-bind-server any or an IP address"
        )
    return fields[2]


def find_detached_pid(text: str) -> int | None:
    """The pid in ``[distant server detached, pid = N]``, if printed."""
    m = _DETACHED.search(text)
    return int(m.group(1)) if m else None


def complete_lines(text: str) -> str:
    """``text`` up to its last line break (``\\n`` or ``\\r``)."""
    end = max(text.rfind("\n"), text.rfind("\r"))
    return text[: end + 1]


async def start_server(session: SshSession, command: str, timeout: float) -> LaunchedServer:
    """Run ``command`` over ``session`` and wait up to ``timeout`` seconds for the
    credentials it prints; a clear :class:`PluginError` when none come."""
    log.info("launching over ssh: %s", command)
    process = await session.exec(command)
    out = bytearray()
    err = bytearray()
    found: Destination | None = None
    code: int | None = None
    exited = False
    with anyio.move_on_after(timeout) as scope:
        async with anyio.create_task_group() as tg:
            stderr_done = anyio.Event()
            tg.start_soon(_collect, process, err, stderr_done)
            async for chunk in process.stdout:
                if len(out) < _OUTPUT_LIMIT:
                    out += chunk
                found = find_credentials(complete_lines(out.decode("utf-8", "replace")))
                if found is not None:
                    break
            if found is None:
                code, exited = await process.wait(), True
                # stderr may still be in flight after the exit status.
                with anyio.move_on_after(_EXIT_GRACE):
                    await stderr_done.wait()
            else:
                with anyio.move_on_after(_EXIT_GRACE):
                    code, exited = await process.wait(), True
            tg.cancel_scope.cancel()
    text = out.decode("utf-8", "replace")
    errors = err.decode("utf-8", "replace").strip()
    if found is not None:
        pid = find_detached_pid(text)
        log.info(
            "launched server at port %s (pid %s%s)",
            found.port,
            pid if pid is not None else "unknown",
            "" if exited else ", launcher still running",
        )
        return LaunchedServer(found, pid)
    await process.kill()
    detail = f": {_tail(errors)}" if errors else ""
    if scope.cancelled_caught:
        raise PluginError(f"the launched server printed no credentials in {timeout:g} s{detail}")
    if code == 127:
        raise PluginError(
            "no distant server program on the remote host (exit 127)"
            f"{detail}; install one there (pip install distant-server) or name it "
            "with --distant"
        )
    raise PluginError(f"the launched server exited with code {code} before it was ready{detail}")


async def _collect(process: RemoteProcess, sink: bytearray, done: anyio.Event) -> None:
    try:
        async for chunk in process.stderr:
            if len(sink) < _OUTPUT_LIMIT:
                sink += chunk
    finally:
        done.set()


def _tail(text: str, limit: int = 500) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else "…" + text[-limit:]
