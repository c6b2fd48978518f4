"""The ssh Api's ``watch``/``unwatch``, through a remote ``inotifywait -m``.

When the remote host has ``inotifywait`` (inotify-tools), ``watch`` runs
``inotifywait -m [-r] -e EVENTS --format '%e %w%f' PATH`` over an exec channel, replies
``ok`` once it says "Watches established." and streams the changes it reports. Without
it, ``watch`` is ``unsupported`` (and ``fs_watch`` is not advertised).

The changes are the host's (``distant_server.host.watch``, on watchfiles):

* only ``create``, ``modify`` and ``delete`` are reported: inotify's ``CREATE`` and
  ``MOVED_TO`` are ``create``; ``MODIFY``, ``CLOSE_WRITE`` and ``ATTRIB`` are ``modify``
  (so an attribute change is a ``modify``); ``DELETE``, ``MOVED_FROM``, ``DELETE_SELF``
  and ``MOVE_SELF`` are ``delete`` (so a rename is ``delete`` of the old path plus
  ``create`` of the new one). ``access``, ``open``, ``close_*``, ``attribute`` and
  ``rename`` never occur, and only the inotify events the allowed kinds need are asked for;
* changes are debounced like the host's defaults: a batch ends after
  :data:`DEBOUNCE_STEP` without a new event or :data:`DEBOUNCE_TIMEOUT` after its first
  one, and brings one ``changed`` per path and kind, by path, per path create → modify →
  delete (delete → create → modify when the path's last event was not a delete: it exists
  again);
* the temporary files of atomic writes (``.<name>.distant-<hex>``, this Api's and the
  host's) are never reported: only the rename onto the real name shows (as its
  ``create``). A user file with such a name is hidden too;
* the path must exist (``not_found``) and is canonicalised, reported paths are canonical
  and absolute, ``recursive`` false watches the path and its direct entries, ``only`` and
  ``except`` filter the kinds, ``timestamp`` is the report time in Unix seconds, ``unwatch``
  stops every watch of that path (as given or canonical; ``not_found`` if none) and
  watches end with their connection.

Unlike the host, ``details.timestamp`` is not filled in (it would take a ``stat`` round
trip per change), and a path with a newline in its name is not reported correctly
(inotifywait's output is line based).
"""

from __future__ import annotations

import contextlib
import logging
import posixpath
import re
import shlex
import time
from dataclasses import dataclass, field

import anyio
import anyio.abc

from distant_codec import ChangeKind, ErrorKind
from distant_codec import common as c
from distant_codec import requests as rq
from distant_codec import responses as rs
from distant_server import Api, ApiContext, ApiError

from .api_process import PID_PREFIX, TrackedProcess
from .session import SshSession

__all__ = ["SshWatchOps", "RemoteWatchTable", "ChangeBatch", "parse_event", "is_temporary"]

log = logging.getLogger("distant_plugins.ssh")

READY = b"Watches established."
READY_TIMEOUT = 30.0
DEBOUNCE_TIMEOUT = 0.5
"""The longest a batch of changes is held (the host's default ``debounce_timeout``)."""
DEBOUNCE_STEP = 0.125
"""A batch ends after this long without a new event (the host's default tick rate)."""

_EVENTS: dict[str, ChangeKind] = {
    "CREATE": ChangeKind.CREATE,
    "MOVED_TO": ChangeKind.CREATE,
    "MODIFY": ChangeKind.MODIFY,
    "CLOSE_WRITE": ChangeKind.MODIFY,
    "ATTRIB": ChangeKind.MODIFY,
    "DELETE": ChangeKind.DELETE,
    "DELETE_SELF": ChangeKind.DELETE,
    "MOVED_FROM": ChangeKind.DELETE,
    "MOVE_SELF": ChangeKind.DELETE,
}
_SUBSCRIBE: dict[ChangeKind, tuple[str, ...]] = {
    ChangeKind.CREATE: ("create", "moved_to"),
    ChangeKind.MODIFY: ("modify", "close_write", "attrib"),
    ChangeKind.DELETE: ("delete", "moved_from", "delete_self", "move_self"),
}
_ORDER = (ChangeKind.CREATE, ChangeKind.MODIFY, ChangeKind.DELETE)
_AGAIN = (ChangeKind.DELETE, ChangeKind.CREATE, ChangeKind.MODIFY)
_TEMPORARY = re.compile(r"\..+\.distant-[0-9a-f]{8,}", re.DOTALL)


def is_temporary(path: str) -> bool:
    """Whether ``path`` is an atomic write's temporary file (``.<name>.distant-<hex>``)."""
    return _TEMPORARY.fullmatch(posixpath.basename(path)) is not None


def parse_event(line: bytes) -> tuple[list[ChangeKind], str] | None:
    """``"MOVED_TO,ISDIR /dir/name"`` → ``([create], "/dir/name")``; ``None`` for a line
    that is not an event. A trailing ``/`` (inotifywait's form of a watched directory) is
    dropped."""
    text = line.decode("utf-8", "surrogateescape")
    events, sep, path = text.partition(" ")
    if not sep or not path:
        return None
    if len(path) > 1:
        path = path.rstrip("/") or "/"
    kinds: list[ChangeKind] = []
    for name in events.split(","):
        kind = _EVENTS.get(name)
        if kind is not None and kind not in kinds:
            kinds.append(kind)
    return kinds, path


@dataclass
class _PathChanges:
    kinds: set[ChangeKind] = field(default_factory=set)
    last: ChangeKind | None = None


class ChangeBatch:
    """The changes of one debounce window: one per path and kind, in the host's order."""

    def __init__(self, allowed: frozenset[ChangeKind]) -> None:
        self.allowed = allowed
        self._paths: dict[str, _PathChanges] = {}

    def __bool__(self) -> bool:
        return bool(self._paths)

    def add(self, kind: ChangeKind, path: str) -> None:
        if is_temporary(path):
            return
        entry = self._paths.setdefault(path, _PathChanges())
        entry.kinds.add(kind)
        entry.last = kind

    def take(self, now: int) -> list[c.Change]:
        """The batch's changes (allowed kinds only), emptying it."""
        paths, self._paths = self._paths, {}
        changes: list[c.Change] = []
        for path in sorted(paths):
            entry = paths[path]
            order = _ORDER
            if {ChangeKind.CREATE, ChangeKind.DELETE} <= entry.kinds:
                order = _ORDER if entry.last is ChangeKind.DELETE else _AGAIN
            for kind in order:
                if kind in entry.kinds and kind in self.allowed:
                    changes.append(c.Change(now, kind, path))
        return changes


class _RemoteWatch:
    def __init__(self, raw: str, canonical: str, process: TrackedProcess) -> None:
        self.raw = raw
        self.canonical = canonical
        self.process = process
        self.done = anyio.Event()

    async def stop(self) -> None:
        with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
            await self.process.kill()


class RemoteWatchTable:
    def __init__(self) -> None:
        self.watches: list[_RemoteWatch] = []

    async def aclose(self) -> None:
        watches, self.watches = self.watches, []
        for watch in watches:
            await watch.stop()


def inotify_events(kinds: frozenset[ChangeKind]) -> list[str]:
    """The ``inotifywait -e`` events ``kinds`` need (one harmless event when none: with no
    ``-e`` at all, inotifywait would report every event)."""
    events = sorted({e for kind in kinds for e in _SUBSCRIBE.get(kind, ())})
    return events or ["delete_self"]


async def _read_events(
    process: TrackedProcess, send: anyio.abc.ObjectSendStream[tuple[ChangeKind, str]]
) -> None:
    """inotifywait's output, one ``(kind, path)`` per reported kind."""
    async with send:
        buffer = b""
        async for chunk in process.stdout:
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                parsed = parse_event(line)
                if parsed is not None:
                    for kind in parsed[0]:
                        await send.send((kind, parsed[1]))


async def _send_batches(
    receive: anyio.abc.ObjectReceiveStream[tuple[ChangeKind, str]],
    batch: ChangeBatch,
    ctx: ApiContext,
) -> None:
    """Debounce (see the module docstring) and send each batch's changes, until the events
    end."""
    async with receive:
        ended = False
        while not ended:
            try:
                kind, path = await receive.receive()
            except anyio.EndOfStream:
                return
            batch.add(kind, path)
            deadline = anyio.current_time() + DEBOUNCE_TIMEOUT
            while True:
                wait = min(DEBOUNCE_STEP, deadline - anyio.current_time())
                if wait <= 0:
                    break
                with anyio.move_on_after(wait) as quiet:
                    try:
                        kind, path = await receive.receive()
                    except anyio.EndOfStream:
                        ended = True
                    else:
                        batch.add(kind, path)
                if quiet.cancelled_caught or ended:
                    break
            for change in batch.take(int(time.time())):
                await ctx.send(change)


class SshWatchOps(Api):
    """``watch`` / ``unwatch`` through a remote ``inotifywait``."""

    session: SshSession
    has_inotifywait: bool = False

    async def watch(self, ctx: ApiContext, req: rq.Watch) -> rs.Ok:
        if not self.has_inotifywait:
            raise ApiError(
                ErrorKind.UNSUPPORTED,
                "watch is unsupported: the remote host has no inotifywait (inotify-tools)",
            )
        await self.session.stat(req.path)  # not_found naming the path
        canonical = await self.session.realpath(req.path)
        kinds = frozenset(req.only) if req.only else frozenset(ChangeKind)
        allowed = kinds - set(req.except_)
        argv = ["inotifywait", "-m"]
        if req.recursive:
            argv.append("-r")
        for event in inotify_events(allowed):
            argv += ["-e", event]
        argv += ["--format", "%e %w%f", "--", canonical]
        process = TrackedProcess(
            self.session, await self.session.exec(PID_PREFIX + "exec " + shlex.join(argv))
        )
        try:
            await process.start()
        except BaseException:  # cancelled or failed before it is tracked: end it here
            await process.kill()  # (shielded)
            raise
        watch = _RemoteWatch(req.path, canonical, process)
        stderr = process.stderr.__aiter__()
        seen = b""
        try:
            with anyio.fail_after(READY_TIMEOUT):
                while READY not in seen:
                    try:
                        seen += await stderr.__anext__()
                    except StopAsyncIteration:
                        break
        except TimeoutError:
            await watch.stop()
            raise ApiError(ErrorKind.TIMED_OUT, f"inotifywait did not start: {req.path}") from None
        if READY not in seen:
            await watch.stop()
            reason = seen.decode("utf-8", "replace").strip() or "inotifywait failed"
            raise ApiError(ErrorKind.OTHER, f"cannot watch {req.path}: {reason}")
        table = ctx.connection.resource(RemoteWatchTable)
        table.watches.append(watch)

        async def drain_stderr() -> None:
            async for _chunk in stderr:  # keep the channel flowing
                pass

        async def pump() -> None:
            send, receive = anyio.create_memory_object_stream[tuple[ChangeKind, str]](1000)
            try:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(drain_stderr)
                    tg.start_soon(_read_events, process, send)
                    await _send_batches(receive, ChangeBatch(allowed), ctx)
                    tg.cancel_scope.cancel()  # inotifywait has ended; stderr may linger
            finally:
                if watch in table.watches:
                    table.watches.remove(watch)
                await watch.stop()
                watch.done.set()

        ctx.after_reply(pump)
        return rs.Ok()

    async def unwatch(self, ctx: ApiContext, req: rq.Unwatch) -> rs.Ok:
        table = ctx.connection.existing(RemoteWatchTable)
        taken: list[_RemoteWatch] = []
        if table is not None:
            try:
                canonical = await self.session.realpath(req.path)
            except OSError:
                canonical = req.path
            taken = [w for w in table.watches if w.raw == req.path or w.canonical == canonical]
            table.watches = [w for w in table.watches if w not in taken]
        if not taken:
            raise ApiError(ErrorKind.NOT_FOUND, f"{req.path} is not being watched")
        for watch in taken:
            await watch.stop()
        with anyio.move_on_after(1.0):
            for watch in taken:
                await watch.done.wait()
        return rs.Ok()
