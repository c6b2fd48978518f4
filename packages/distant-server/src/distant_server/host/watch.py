"""``watch`` and ``unwatch`` on this host (§7.3, §7.5), on watchfiles (inotify).

``watch`` replies ``ok`` once the watch is in place (so a change made right after the reply
is seen), then streams one ``changed`` per changed path.

Decisions (distant 0.21's ``distant-local`` watcher unless noted):

* The path must exist (else ``not_found`` naming it). It is canonicalised and the reported
  paths are canonical absolute paths, as notify reports them to upstream.
* ``recursive`` false: only the path itself and its direct entries; true: the whole tree.
* ``only`` / ``except``: the kinds reported are ``only`` (all kinds when empty) minus
  ``except``.
* ``timestamp`` is when the change was reported, in Unix **seconds** (upstream's
  ``as_secs()``). ``details.timestamp`` is, in Unix seconds, the path's modification time for
  ``modify`` and its creation time for ``create`` (birth time where the OS reports one, else
  its status-change time); it is omitted for ``delete``.
* watchfiles reports only *added*, *modified* and *deleted*, mapped to ``create``,
  ``modify`` and ``delete``. So ``access``, ``open``, ``close_write``, ``close_no_write``,
  ``attribute`` and ``rename`` never occur: an attribute change (chmod, touch) arrives as
  ``modify``, and a rename as ``delete`` of the old path plus ``create`` of the new one.
* Changes are debounced: those within the debounce timeout arrive together,
  one ``changed`` per path and kind; as a batch is a set, its order is rebuilt (by path, and
  per path create → modify → delete, or delete → create when the path exists again).
* ``unwatch`` stops every watch of this connection on that path (given as watched, or
  canonical) and replies ``ok`` once they have stopped streaming; a path not watched is
  ``not_found`` ("<path> is not being watched"; upstream says ``other``). Watches belong to
  their connection and stop when it closes.
* If the notifier fails, an ``error`` is sent on the stream and the watch ends (upstream
  also forwards watcher errors). A deleted watched path reports its ``delete`` and then
  nothing more.
* ``compare_contents`` (``--watch-compare-contents``) is accepted for CLI parity but has no
  effect: watchfiles' polling compares modification times only.

Each watch runs its own watchfiles notifier and waits for it in a worker thread of its own
(never from anyio's default thread pool, which a few dozen idle watches would exhaust).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import os
import threading
import time
from typing import Any

import anyio
import anyio.to_thread
from watchfiles._rust_notify import RustNotify

from distant_codec import common as c
from distant_codec import requests as rq
from distant_codec import responses as rs
from distant_codec.common import ChangeKind, Error, ErrorKind
from distant_server.api import Api
from distant_server.context import ApiContext
from distant_server.errors import ApiError
from distant_server.listen import WatchSettings

__all__ = ["WatchOps", "WatchTable"]

log = logging.getLogger("distant_server")

_KINDS = {1: ChangeKind.CREATE, 2: ChangeKind.MODIFY, 3: ChangeKind.DELETE}
_WAIT_TIMEOUT_MS = 5_000
_UNWATCH_WAIT = 1.0


def _depth_under(path: str, base: str) -> int | None:
    """How many components ``path`` is below ``base`` (0: the same), or None if outside."""
    if path == base:
        return 0
    prefix = base if base.endswith("/") else base + "/"
    if not path.startswith(prefix):
        return None
    return len([part for part in path[len(prefix) :].split("/") if part])


def _details_timestamp(path: str, kind: ChangeKind) -> int | None:
    if kind not in (ChangeKind.CREATE, ChangeKind.MODIFY):
        return None
    try:
        st = os.lstat(path)
    except OSError:
        return None
    if kind is ChangeKind.MODIFY:
        return int(st.st_mtime)
    return int(getattr(st, "st_birthtime", st.st_ctime))


class _Watch:
    """One watched path: its notifier, filters and stop flag."""

    def __init__(
        self,
        raw: str,
        canonical: str,
        recursive: bool,
        allowed: frozenset[ChangeKind],
        notify: RustNotify,
    ) -> None:
        self.raw = raw
        self.canonical = canonical
        self.recursive = recursive
        self.allowed = allowed
        self.stop = threading.Event()
        self.done = anyio.Event()
        self._notify = notify
        self._lock = threading.Lock()
        self._busy = False
        self._closed = False

    def applies_to(self, path: str) -> bool:
        """Upstream's ``applies_to_path``: within the watched path, and no deeper than its
        direct entries unless recursive."""
        for base in (self.canonical, self.raw):
            depth = _depth_under(path, base)
            if depth is not None and (depth < 2 or self.recursive):
                return True
        return False

    def _close_locked(self) -> None:
        if not self._closed:
            self._closed = True
            with contextlib.suppress(Exception):
                self._notify.close()

    def shutdown(self) -> None:
        """Stop (from any thread): the waiting thread returns within one debounce step."""
        with self._lock:
            self.stop.set()
            if not self._busy:
                self._close_locked()

    def wait(self, debounce_ms: int, step_ms: int) -> list[c.Change] | None:
        """The next changes (in a worker thread); None once stopped."""
        try:
            raw = self._notify.watch(debounce_ms, step_ms, _WAIT_TIMEOUT_MS, self.stop)
        finally:
            with self._lock:
                self._busy = False
                if self.stop.is_set():
                    self._close_locked()
        if raw == "stop":
            return None
        if isinstance(raw, str):  # "timeout" (or "signal", which a thread never gets)
            return []
        return self._changes(raw)

    async def next(
        self, debounce_ms: int, step_ms: int, limiter: anyio.CapacityLimiter
    ) -> list[c.Change] | None:
        with self._lock:
            if self.stop.is_set():
                return None
            self._busy = True
        return await anyio.to_thread.run_sync(
            self.wait, debounce_ms, step_ms, abandon_on_cancel=True, limiter=limiter
        )

    def _changes(self, raw: set[tuple[int, str]]) -> list[c.Change]:
        now = int(time.time())
        by_path: dict[str, set[int]] = {}
        for code, path in raw:
            by_path.setdefault(path, set()).add(code)
        changes: list[c.Change] = []
        for path in sorted(by_path):
            if not self.applies_to(path):
                continue
            codes = by_path[path]
            order = (1, 2, 3)
            if 1 in codes and 3 in codes and os.path.lexists(path):
                order = (3, 1, 2)  # deleted, then created again
            for code in order:
                kind = _KINDS.get(code)
                if code not in codes or kind is None or kind not in self.allowed:
                    continue
                details = c.ChangeDetails(timestamp=_details_timestamp(path, kind))
                changes.append(c.Change(now, kind, path, details))
        return changes


class WatchTable:
    """The watches of one connection (a per-connection resource): stops them all when the
    connection closes."""

    def __init__(self) -> None:
        self._watches: list[_Watch] = []
        self._limiter: anyio.CapacityLimiter | None = None

    @property
    def limiter(self) -> anyio.CapacityLimiter:
        """Threads for the watches' waits, apart from anyio's default pool (each watch
        holds one for as long as it runs)."""
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(100_000)
        return self._limiter

    def add(self, watch: _Watch) -> None:
        self._watches.append(watch)

    def discard(self, watch: _Watch) -> None:
        if watch in self._watches:
            self._watches.remove(watch)

    def take(self, path: str, canonical: str) -> list[_Watch]:
        """Remove and return the watches of ``path`` (as given when watched, or canonical)."""
        taken = [w for w in self._watches if w.raw == path or w.canonical == canonical]
        self._watches = [w for w in self._watches if w not in taken]
        return taken

    async def aclose(self) -> None:
        watches, self._watches = self._watches, []
        for watch in watches:
            watch.shutdown()


def _seconds_to_ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def _start(path: str, recursive: bool, polling: bool, poll_delay_ms: int) -> tuple[str, RustNotify]:
    """Canonicalise ``path`` and start its notifier (blocking)."""
    os.stat(path)  # FileNotFoundError naming the path as given
    canonical = os.path.realpath(path)
    try:
        notify = RustNotify([canonical], False, polling, poll_delay_ms, recursive, True)
    except OSError:
        raise
    except Exception as exc:  # WatchfilesRustInternalError, e.g. out of inotify watches
        raise ApiError(ErrorKind.OTHER, f"cannot watch {path}: {exc}") from None
    return canonical, notify


def _realpath(path: str) -> str:
    try:
        return os.path.realpath(path)
    except (OSError, ValueError):
        return path


DEFAULT_WATCH_SETTINGS = WatchSettings(debounce_timeout=0.05)
"""What a bare ``WatchOps()`` uses: the CLI's defaults, but a 50 ms debounce."""


class WatchOps(Api):
    """``watch`` and ``unwatch`` over this host's file system.

    ``WatchOps(settings, **overrides)`` takes the ``--watch-*`` flags of
    ``distant server listen`` as a :class:`~distant_server.listen.WatchSettings` (seconds),
    any field of which can be overridden by keyword (``polling``, ``poll_interval``,
    ``compare_contents``, ``debounce_timeout``, ``debounce_tick_rate``):

    * ``polling``: poll instead of using inotify (watchfiles' ``force_polling``);
    * ``poll_interval``: seconds between polls (30 s when None, as upstream);
    * ``compare_contents``: accepted, no effect;
    * ``debounce_timeout``: changes within this window are sent together (watchfiles'
      ``debounce``);
    * ``debounce_tick_rate``: how often the debouncer checks for quiet and for a stop
      (watchfiles' ``step``; a quarter of the timeout when None, as upstream's debouncer).

    Without settings the defaults are :data:`DEFAULT_WATCH_SETTINGS` (a composing class need
    not call this ``__init__``).
    """

    watch_settings: WatchSettings = DEFAULT_WATCH_SETTINGS
    _poll_delay_ms: int = 30_000
    _debounce_ms: int = 50
    _step_ms: int = 12

    def __init__(self, settings: WatchSettings | None = None, **overrides: Any) -> None:
        base = DEFAULT_WATCH_SETTINGS if settings is None else settings
        s = self.watch_settings = dataclasses.replace(base, **overrides)
        self._poll_delay_ms = _seconds_to_ms(30.0 if s.poll_interval is None else s.poll_interval)
        self._debounce_ms = _seconds_to_ms(s.debounce_timeout)
        tick = s.debounce_timeout / 4 if s.debounce_tick_rate is None else s.debounce_tick_rate
        self._step_ms = _seconds_to_ms(tick)

    async def watch(self, ctx: ApiContext, req: rq.Watch) -> rs.Ok:
        canonical, notify = await anyio.to_thread.run_sync(
            _start, req.path, req.recursive, self.watch_settings.polling, self._poll_delay_ms
        )
        kinds = frozenset(req.only) if req.only else frozenset(ChangeKind)
        watch = _Watch(req.path, canonical, req.recursive, kinds - set(req.except_), notify)
        table = ctx.connection.resource(WatchTable)
        table.add(watch)
        ctx.after_reply(functools.partial(self._pump, ctx, table, watch))
        return rs.Ok()

    async def _pump(self, ctx: ApiContext, table: WatchTable, watch: _Watch) -> None:
        try:
            while True:
                changes = await watch.next(self._debounce_ms, self._step_ms, table.limiter)
                if changes is None:
                    return
                for change in changes:
                    await ctx.send(change)
        except Exception as exc:
            # upstream forwards watcher errors on the stream too
            log.exception("connection %d: watching %s failed", ctx.connection_id, watch.raw)
            with contextlib.suppress(Exception):
                await ctx.send(Error(ErrorKind.OTHER, f"watching {watch.raw} failed: {exc}"))
        finally:
            watch.shutdown()
            table.discard(watch)
            watch.done.set()

    async def unwatch(self, ctx: ApiContext, req: rq.Unwatch) -> rs.Ok:
        table = ctx.connection.existing(WatchTable)
        taken: list[_Watch] = []
        if table is not None:
            canonical = await anyio.to_thread.run_sync(_realpath, req.path)
            taken = table.take(req.path, canonical)
        if not taken:
            raise ApiError(ErrorKind.NOT_FOUND, f"{req.path} is not being watched")
        for watch in taken:
            watch.shutdown()
        with anyio.move_on_after(_UNWATCH_WAIT):
            for watch in taken:
                await watch.done.wait()
        return rs.Ok()
