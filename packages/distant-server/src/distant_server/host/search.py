"""``search`` and ``cancel_search`` on this host (§7.3, §7.5).

``search`` replies ``search_started`` with a random u32 id, then streams ``search_results``
and ends with ``search_done`` — always, also after ``cancel_search`` and after an empty or
failed walk (upstream's reporter does the same).

Decisions, matching distant 0.21 (``distant-local``'s ``SearchQueryExecutor``) unless noted:

* **Batches.** With ``pagination`` N, results go in pages of exactly N, the last page
  holding the remainder (N = 0 counts as 1, as upstream's ``len >= 0`` check does).
  Without it, upstream sends everything in one message at the end; we send what each work
  step found — a step runs at most 50 ms, 1000 matches or about 4 MiB of matched lines —
  so a quick search still gets one ``search_results`` and a long one streams a batch
  about every 50 ms.
* **limit** stops the search after that many matches in total (0 = none at all).
* **max_depth**: 0 is only the given paths themselves, 1 adds their entries, and so on.
* **upward**: each path's ancestors are searched instead of its subtree, each only through
  its immediate entries, ``max_depth`` counting ancestors (none = up to ``/``); with
  ``max_depth`` 0 the path itself and its entries are searched. A relative path's ancestors
  are taken from its absolute form (upstream stops at the relative path's first component).
  Results are de-duplicated by path (upstream lists a directory twice, as an entry of its
  parent and as a searched root).
* The paths are sorted and de-duplicated first; a path that does not exist gives no
  results, not an error. An empty ``paths`` is ``invalid_input`` ("missing paths").
* ``include`` / ``exclude`` are searched in each walked path; they filter what is reported
  and searched, not what is walked. ``allowed_file_types`` likewise (empty = all). The
  ``contents`` target reads regular files only (symlinks to files with
  ``follow_symbolic_links``).
* A bad ``include``/``exclude``/condition regex fails the request with ``invalid_input``
  (upstream fails only for the condition and silently ends the search for the filters).
* Regexes are Python's ``re`` dialect, not Rust's.
* ``cancel_search`` of an id that is not running on this connection is ``not_found`` (upstream
  says ``other``, with the same "[Query N] Cancellation failed because no search found").
  Searches belong to their connection and are cancelled when it closes.

The walk and the reads run in worker threads (a per-connection limit of
``search_threads``), in steps of at most 50 ms; between steps the results are sent and a
cancelled search stops. So a big search never blocks the event loop, other requests or
other connections, and one stuck on a slow client waits instead of buffering.
"""

from __future__ import annotations

import functools
import logging
import os
import random
import re
import threading
import time
from collections.abc import Generator
from dataclasses import dataclass

import anyio
import anyio.to_thread

from distant_codec import common as c
from distant_codec import requests as rq
from distant_codec import responses as rs
from distant_codec.common import ErrorKind, FileType, SearchQueryTarget
from distant_server.api import Api
from distant_server.context import ApiContext
from distant_server.errors import ApiError

from .ignore import IgnoreOptions, IgnoreRules
from .search_match import LineMatcher, compile_condition, lossy
from .search_walk import walk

__all__ = ["SearchOps", "SearchTable"]

log = logging.getLogger("distant_server")

STEP_SECONDS = 0.05
"""How long one worker-thread step of a search may run before its results are sent."""
BATCH_MATCHES = 1000
"""The most matches one step collects (and, without pagination, one message holds)."""
BATCH_BYTES = 4 << 20
"""A step also ends once the lines (or paths) it matched reach about this many bytes."""


@dataclass(frozen=True, slots=True)
class _Plan:
    target: SearchQueryTarget
    matcher: LineMatcher
    include: re.Pattern[str] | None
    exclude: re.Pattern[str] | None
    allowed: frozenset[FileType]
    roots: list[str]
    max_depth: int | None
    follow_links: bool
    ignore: IgnoreOptions
    dedup: bool


def _parent(path: str) -> str | None:
    """The lexical parent of an absolute path (None for ``/``)."""
    trimmed = path.rstrip("/") or "/"
    if trimmed == "/":
        return None
    return trimmed.rsplit("/", 1)[0] or "/"


def _roots(query: c.SearchQuery) -> list[str]:
    """The directories and files to walk (upstream's ``target_paths``)."""
    opts = query.options
    targets: list[str] = []
    for path in query.paths:
        if not opts.upward or opts.max_depth == 0:
            targets.append(path)
        if opts.upward and (opts.max_depth is None or opts.max_depth > 0):
            remaining = opts.max_depth
            current = os.path.abspath(path) if not os.path.isabs(path) else path
            while remaining is None or remaining > 0:
                parent = _parent(current)
                if parent is None:
                    break
                targets.append(parent)
                current = parent
                if remaining is not None:
                    remaining -= 1
    return sorted(set(targets))


def plan(query: c.SearchQuery) -> _Plan:
    """Check and compile a query; raises ``ApiError`` (``invalid_input``)."""
    if not query.paths:
        raise ApiError(ErrorKind.INVALID_INPUT, "missing paths")
    opts = query.options
    return _Plan(
        target=query.target,
        matcher=LineMatcher(query.condition),
        include=compile_condition(opts.include) if opts.include is not None else None,
        exclude=compile_condition(opts.exclude) if opts.exclude is not None else None,
        allowed=frozenset(opts.allowed_file_types),
        roots=_roots(query),
        max_depth=1 if opts.upward else opts.max_depth,
        follow_links=opts.follow_symbolic_links,
        ignore=IgnoreOptions(
            hidden=opts.ignore_hidden,
            ignore=opts.use_ignore_files,
            parents=opts.use_parent_ignore_files,
            git_ignore=opts.use_git_ignore_files,
            git_global=opts.use_global_git_ignore_files,
            git_exclude=opts.use_git_exclude_files,
        ),
        dedup=opts.upward,
    )


def _matches(p: _Plan) -> Generator[c.SearchQueryMatch | None, None, None]:
    """Every match of the plan, with ``None`` ticks between pieces of work (blocking)."""
    rules = IgnoreRules(p.ignore) if p.ignore.any_files else None
    seen: set[str] | None = set() if p.dedup else None
    contents = p.target is SearchQueryTarget.CONTENTS
    for entry in walk(
        p.roots,
        max_depth=p.max_depth,
        follow_links=p.follow_links,
        ignore=rules,
        hidden=p.ignore.hidden,
    ):
        if entry is None:
            yield None
            continue
        if seen is not None:
            if entry.path in seen:
                continue
            seen.add(entry.path)
        shown = lossy(entry.path)
        if p.include is not None and not p.include.search(shown):
            continue
        if p.exclude is not None and p.exclude.search(shown):
            continue
        if p.allowed and entry.file_type not in p.allowed:
            continue
        if not contents:
            found = p.matcher.match_path(shown)
            if found is not None:
                yield found
        elif entry.file_type is FileType.FILE:
            yield from p.matcher.scan_file(entry.path, shown, explicit=entry.depth == 0)


class _Search:
    """One running search: its id, its cancel flag, and its resumable match generator."""

    def __init__(self, search_id: int, p: _Plan) -> None:
        self.id = search_id
        self.plan = p
        self.cancelled = threading.Event()
        self._matches: Generator[c.SearchQueryMatch | None, None, None] | None = None

    def step(self, want: int) -> tuple[list[c.SearchQueryMatch], bool]:
        """Up to ``want`` more matches, found in at most about ``STEP_SECONDS`` (runs in a
        worker thread); and whether the search is over."""
        if self._matches is None:
            self._matches = _matches(self.plan)
        found: list[c.SearchQueryMatch] = []
        size = 0
        deadline = time.monotonic() + STEP_SECONDS
        matches = self._matches
        while not self.cancelled.is_set():
            try:
                item = next(matches)
            except StopIteration:
                return found, True
            if item is not None:
                found.append(item)
                size += len(item.lines) if isinstance(item, c.ContentsMatch) else len(item.path)
                if len(found) >= want or size >= BATCH_BYTES:
                    return found, False
            if time.monotonic() >= deadline:
                return found, False
        matches.close()
        return found, True


class SearchTable:
    """The searches of one connection (a per-connection resource): cancels them all when
    the connection closes."""

    def __init__(self, threads: int = 4) -> None:
        self._searches: dict[int, _Search] = {}
        self._threads = threads
        self._limiter: anyio.CapacityLimiter | None = None

    @property
    def limiter(self) -> anyio.CapacityLimiter:
        """The worker threads this connection's searches share (created in the event loop)."""
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self._threads)
        return self._limiter

    def start(self, p: _Plan) -> _Search:
        while True:
            search_id = random.getrandbits(32)
            if search_id not in self._searches:
                break
        search = self._searches[search_id] = _Search(search_id, p)
        return search

    def cancel(self, search_id: int) -> bool:
        search = self._searches.pop(search_id, None)
        if search is None:
            return False
        search.cancelled.set()
        return True

    def finished(self, search: _Search) -> None:
        if self._searches.get(search.id) is search:
            del self._searches[search.id]

    def __contains__(self, search_id: int) -> bool:
        return search_id in self._searches

    async def aclose(self) -> None:
        for search in self._searches.values():
            search.cancelled.set()
        self._searches.clear()


class SearchOps(Api):
    """``search`` and ``cancel_search`` over this host's file system.

    ``search_threads`` bounds the worker threads the searches of one connection use at once
    (a composing class need not call this ``__init__``: the default is a class attribute).
    """

    search_threads: int = 4

    def __init__(self, *, search_threads: int = 4) -> None:
        self.search_threads = max(1, search_threads)

    def _search_table(self, ctx: ApiContext) -> SearchTable:
        threads = max(1, self.search_threads)
        return ctx.connection.resource(SearchTable, lambda: SearchTable(threads))

    async def search(self, ctx: ApiContext, req: rq.Search) -> rs.SearchStarted:
        p = plan(req.query)
        table = self._search_table(ctx)
        search = table.start(p)
        ctx.after_reply(functools.partial(_run, ctx, table, search, req.query.options))
        return rs.SearchStarted(search.id)

    async def cancel_search(self, ctx: ApiContext, req: rq.CancelSearch) -> rs.Ok:
        table = ctx.connection.existing(SearchTable)
        if table is None or not table.cancel(req.id):
            raise ApiError(
                ErrorKind.NOT_FOUND,
                f"[Query {req.id}] Cancellation failed because no search found",
            )
        return rs.Ok()


async def _run(
    ctx: ApiContext, table: SearchTable, search: _Search, opts: c.SearchQueryOptions
) -> None:
    """Drive a search step by step in worker threads and stream its results."""
    page = None if opts.pagination is None else max(1, opts.pagination)
    limit = opts.limit
    total = 0
    pending: list[c.SearchQueryMatch] = []
    try:
        done = limit == 0
        while not done:
            want = BATCH_MATCHES if page is None else page - len(pending)
            if limit is not None:
                want = min(want, limit - total)
            try:
                found, done = await anyio.to_thread.run_sync(
                    search.step, want, abandon_on_cancel=True, limiter=table.limiter
                )
            except Exception:
                log.exception("connection %d: search %d failed", ctx.connection_id, search.id)
                found, done = [], True
            total += len(found)
            pending.extend(found)
            if limit is not None and total >= limit:
                done = True
            if page is None:
                if pending:
                    await ctx.send(rs.SearchResults(search.id, tuple(pending)))
                    pending = []
            else:
                while len(pending) >= page:
                    await ctx.send(rs.SearchResults(search.id, tuple(pending[:page])))
                    del pending[:page]
        if pending:
            await ctx.send(rs.SearchResults(search.id, tuple(pending)))
        await ctx.send(rs.SearchDone(search.id))
    finally:
        search.cancelled.set()  # a thread still stepping (we were cancelled) stops soon
        table.finished(search)
