"""``search`` through the remote host's own tools: ripgrep, grep or find.

Backends that cannot walk the remote file system themselves (ssh, docker) run a command
there instead. :class:`CommandSearcher` is given a :data:`RunCommand` (run an argv without a
shell; exit code, stdout, stderr) and the tools :func:`probe_tools` found, and answers like
the host's search (``distant_server/host/search.py``): ``search_started`` with a random u32
id, then ``search_results`` batches (pages of ``pagination`` when set), then ``search_done``
— always, also after ``cancel_search`` or a failed command.

Which tool does what:

* ``path`` target: ``find [-L] PATHS [-maxdepth N] [( -type f -o ... )] -print0``; the
  condition, ``include``/``exclude`` and ``ignore_hidden`` are then matched here with Python's
  ``re``, exactly as the host does, so path searches have the host's semantics.
* ``contents`` target: ``rg --json`` when present (line numbers, byte offsets and submatches
  from ripgrep itself; binary files skipped at their first NUL, as the host does), else
  ``grep -r -n -H -E`` (GNU grep adds ``-Z -b -I``: unambiguous file names, byte offsets, and
  binary files skipped). With busybox grep, ``absolute_offset`` is unknown and reported as 0,
  and a file name holding ``:<digits>:`` could be split wrongly.
* The condition is handed to the tool as a regular expression in the tool's dialect
  (ripgrep: Rust regex; grep: POSIX ERE); literal conditions (``contains``, ``equals``...)
  are escaped for both. With grep, submatches are found by Python's ``re`` on the matched
  line (none when the pattern is not valid Python). A pattern the tool rejects fails the
  request with ``invalid_input`` (checked against an empty input before the search starts).
* ``max_depth``, ``follow_symbolic_links``, ``include``/``exclude``, ``allowed_file_types``,
  ``ignore_hidden``, ``limit`` and ``pagination`` are honoured with every tool. The ignore
  files (``use_*ignore_files``) are honoured with ripgrep only; ``upward`` is not supported.
  Options that cannot be honoured answer ``unsupported`` naming the option, never ignored.

The command's output arrives whole, so results are sent once it has finished (in pages).
``cancel_search`` cancels the wait for the command (what that does to the remote command
depends on the :data:`RunCommand`) and ends the search with ``search_done``.
"""

from __future__ import annotations

import base64
import functools
import json
import logging
import random
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import anyio

from distant_codec import ErrorKind, FileType, SearchQueryTarget
from distant_codec import common as c
from distant_codec import requests as rq
from distant_codec import responses as rs
from distant_codec.extensions import ExtendedResponse as Response
from distant_server import ApiContext, ApiError

__all__ = [
    "RunCommand",
    "probe_tools",
    "CommandSearcher",
    "condition_pattern",
    "parse_rg_json",
    "parse_grep_output",
    "SEARCH_TOOLS",
]

log = logging.getLogger("distant_plugins.search")

RunCommand = Callable[[list[str]], Awaitable[tuple[int | None, bytes, bytes]]]
"""Run an argv on the remote host without a shell: ``(exit code, stdout, stderr)``."""

SEARCH_TOOLS = ("rg", "grep", "find")

_PROBE_SCRIPT = 'for t in "$@"; do command -v "$t" >/dev/null 2>&1 && echo "$t"; done'
_NOT_RUNNABLE = (126, 127, None)
_ERE_SPECIAL = frozenset("\\.[]()*+?{}|^$")


async def probe_tools(run: RunCommand) -> frozenset[str]:
    """Which of ``rg``, ``grep`` and ``find`` the remote host has.

    One ``sh -c 'command -v ...'``; without a shell, each tool is tried directly
    (``tool --version``: any exit status but "cannot run" counts as present)."""
    try:
        code, out, _ = await run(["sh", "-c", _PROBE_SCRIPT, "sh", *SEARCH_TOOLS])
    except OSError:
        code, out = None, b""
    if code == 0:
        names = {line.strip() for line in out.decode("utf-8", "replace").splitlines()}
        return frozenset(names & set(SEARCH_TOOLS))
    found: set[str] = set()
    for tool in SEARCH_TOOLS:
        try:
            code, _, _ = await run([tool, "--version"])
        except OSError:
            continue
        if code not in _NOT_RUNNABLE:
            found.add(tool)
    return frozenset(found)


# -- conditions ----------------------------------------------------------------------------


def _escape(text: str) -> str:
    """``text`` as a literal in POSIX ERE, Rust regex and Python ``re`` alike."""
    return "".join("\\" + ch if ch in _ERE_SPECIAL else ch for ch in text)


def condition_pattern(condition: c.Condition) -> str:
    """The regular expression of a condition, for the remote tool and for Python."""
    if isinstance(condition, c.Regex):
        return condition.value
    if isinstance(condition, c.Contains):
        return _escape(condition.value)
    if isinstance(condition, c.Equals):
        return f"^{_escape(condition.value)}$"
    if isinstance(condition, c.StartsWith):
        return f"^{_escape(condition.value)}"
    if isinstance(condition, c.EndsWith):
        return f"{_escape(condition.value)}$"
    return "|".join(f"({condition_pattern(sub)})" for sub in condition.value)


def _compile(condition: c.Condition) -> re.Pattern[str]:
    pattern = condition_pattern(condition)
    try:
        return re.compile(pattern)
    except (re.error, OverflowError, RecursionError) as exc:
        raise ApiError(ErrorKind.INVALID_INPUT, f"invalid regex {pattern!r}: {exc}") from None


def validate_pattern(pattern: str) -> None:
    """Reject a pattern that is no valid regex (``invalid_input``), before any tool runs.

    Checked with Python's ``re``, close enough to Rust regex and POSIX ERE for the usual
    mistakes (unbalanced groups or brackets, a dangling repetition); some tools do not
    compile a pattern until a line is read (busybox grep), so their own check can miss
    them. Escapes ``re`` does not know (Rust's ``\\pL``, ``\\z``...) are left to the tool."""
    try:
        re.compile(pattern)
    except (re.error, OverflowError, RecursionError) as exc:
        if "bad escape" in str(exc):
            return
        raise ApiError(ErrorKind.INVALID_INPUT, f"invalid regex {pattern!r}: {exc}") from None


def _try_compile(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except (re.error, OverflowError, RecursionError):
        return None


def _byte_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogateescape"))


def _data(text: str) -> c.MatchData:
    """Text decoded with ``surrogateescape``: ``str`` when valid UTF-8, else the bytes."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape")
    return text


def _submatches(pattern: re.Pattern[str], line: str) -> tuple[c.Submatch, ...]:
    """Every match of ``pattern`` in ``line`` (no line break), with byte offsets; an empty
    match right after the previous one is dropped (as Rust's ``find_iter``)."""
    found: list[c.Submatch] = []
    last_end = -1
    for m in pattern.finditer(line):
        start, end = m.span()
        if start == end == last_end:
            continue
        last_end = end
        b_start = _byte_len(line[:start])
        found.append(c.Submatch(_data(m.group()), b_start, b_start + _byte_len(m.group())))
    return tuple(found)


# -- parsing tool output -------------------------------------------------------------------


def _rg_data(field: dict[str, Any]) -> c.MatchData:
    if "text" in field:
        return str(field["text"])
    return base64.b64decode(field.get("bytes", ""))


def _rg_path(field: dict[str, Any]) -> str:
    if "text" in field:
        return str(field["text"])
    return base64.b64decode(field.get("bytes", "")).decode("utf-8", "replace")


def parse_rg_json(output: bytes) -> list[c.ContentsMatch]:
    """The ``match`` messages of ``rg --json`` output as contents matches."""
    found: list[c.ContentsMatch] = []
    for raw in output.splitlines():
        if b'"match"' not in raw:
            continue
        try:
            message = json.loads(raw)
            if message.get("type") != "match":
                continue
            data = message["data"]
            found.append(
                c.ContentsMatch(
                    _rg_path(data["path"]),
                    _rg_data(data["lines"]),
                    int(data["line_number"] or 0),
                    int(data["absolute_offset"]),
                    tuple(
                        c.Submatch(_rg_data(s["match"]), int(s["start"]), int(s["end"]))
                        for s in data["submatches"]
                    ),
                )
            )
        except (ValueError, KeyError, TypeError):
            log.warning("unparsable rg --json line: %r", raw[:200])
    return found


_BUSYBOX_LINE = re.compile(rb"^(.*?):(\d+):")
_GNU_LINE = re.compile(rb"^(\d+):(\d+):")


def parse_grep_output(
    output: bytes, pattern: re.Pattern[str] | None, *, gnu: bool
) -> list[c.ContentsMatch]:
    """``grep -n -H`` output (GNU: ``-Z -b`` too) as contents matches."""
    found: list[c.ContentsMatch] = []
    for raw in output.split(b"\n"):
        if not raw:
            continue
        offset = 0
        if gnu:
            name, sep, rest = raw.partition(b"\0")
            m = _GNU_LINE.match(rest) if sep else None
            if m is None:
                continue
            offset = int(m.group(2))
        else:
            m = _BUSYBOX_LINE.match(raw)
            if m is None:
                continue
            name, rest = m.group(1), raw
        line = rest[m.end() :].decode("utf-8", "surrogateescape")
        subs = _submatches(pattern, line) if pattern is not None else ()
        found.append(
            c.ContentsMatch(
                name.decode("utf-8", "replace"),
                _data(line + "\n"),
                int(m.group(1) if gnu else m.group(2)),
                offset,
                subs,
            )
        )
    return found


# -- planning ------------------------------------------------------------------------------


def _unsupported(what: str) -> ApiError:
    return ApiError(ErrorKind.UNSUPPORTED, f"search: {what} is unsupported on this host")


def _norm(path: str) -> str:
    stripped = path.rstrip("/")
    return stripped or "/"


@dataclass(frozen=True, slots=True)
class _Plan:
    target: SearchQueryTarget
    tool: str
    argv: list[str]
    check_argv: list[str] | None
    roots: list[str]
    matcher: re.Pattern[str] | None
    include: re.Pattern[str] | None
    exclude: re.Pattern[str] | None
    max_depth: int | None
    hidden: bool
    gnu: bool
    empty: bool


class CommandSearcher:
    """``search`` / ``cancel_search`` through the tools found by :func:`probe_tools`."""

    def __init__(self, run: RunCommand, tools: frozenset[str]) -> None:
        self._run = run
        self._tools = tools
        self._gnu_grep: bool | None = None

    @property
    def tools(self) -> frozenset[str]:
        return self._tools

    async def _is_gnu_grep(self) -> bool:
        if self._gnu_grep is None:
            try:
                _, out, _ = await self._run(["grep", "--version"])
            except OSError:
                out = b""
            self._gnu_grep = b"GNU grep" in out
        return self._gnu_grep

    async def _plan(self, query: c.SearchQuery) -> _Plan:
        if not query.paths:
            raise ApiError(ErrorKind.INVALID_INPUT, "missing paths")
        opts = query.options
        if opts.upward:
            raise _unsupported("the upward option")
        roots = sorted({_norm(p) for p in query.paths})
        include = _compile(opts.include) if opts.include is not None else None
        exclude = _compile(opts.exclude) if opts.exclude is not None else None
        allowed = set(opts.allowed_file_types)
        if query.target is SearchQueryTarget.PATH:
            if "find" not in self._tools:
                raise _unsupported("a path search (needs find)")
            argv = ["find"]
            if opts.follow_symbolic_links:
                argv.append("-L")
            argv += roots
            if opts.max_depth is not None:
                argv += ["-maxdepth", str(opts.max_depth)]
            if allowed and allowed != set(FileType):
                letters = {FileType.FILE: "f", FileType.DIR: "d", FileType.SYMLINK: "l"}
                expr: list[str] = []
                for kind in sorted(allowed):
                    expr += [*(["-o"] if expr else []), "-type", letters[kind]]
                argv += ["(", *expr, ")"]
            argv.append("-print0")
            self._no_ignore_files(opts, "find")
            return _Plan(
                query.target, "find", argv, None, roots, _compile(query.condition),
                include, exclude, opts.max_depth, opts.ignore_hidden, False, False,
            )  # fmt: skip
        pattern = condition_pattern(query.condition)
        empty = bool(allowed) and FileType.FILE not in allowed
        if "rg" in self._tools:
            argv = ["rg", "--json", "--no-config", "--no-messages"]
            if not opts.ignore_hidden:
                argv.append("--hidden")
            for wanted, flag in (
                (opts.use_ignore_files, "--no-ignore-dot"),
                (opts.use_parent_ignore_files, "--no-ignore-parent"),
                (opts.use_git_ignore_files, "--no-ignore-vcs"),
                (opts.use_global_git_ignore_files, "--no-ignore-global"),
                (opts.use_git_exclude_files, "--no-ignore-exclude"),
            ):
                if not wanted:
                    argv.append(flag)
            if opts.follow_symbolic_links:
                argv.append("--follow")
            if opts.max_depth is not None:
                argv += ["--max-depth", str(opts.max_depth)]
            argv += ["-e", pattern, "--", *roots]
            check = ["rg", "--no-config", "-e", pattern, "--", "/dev/null"]
            return _Plan(
                query.target, "rg", argv, check, roots, None, include, exclude,
                opts.max_depth, opts.ignore_hidden, False, empty,
            )  # fmt: skip
        if "grep" in self._tools:
            self._no_ignore_files(opts, "grep")
            gnu = await self._is_gnu_grep()
            flags = ("-R" if opts.follow_symbolic_links else "-r") + "nHsE"
            if gnu:
                flags += "ZbI"
            argv = ["grep", flags, "-e", pattern, "--", *roots]
            check = ["grep", "-E", "-e", pattern, "--", "/dev/null"]
            return _Plan(
                query.target, "grep", argv, check, roots, _try_compile(pattern), include,
                exclude, opts.max_depth, opts.ignore_hidden, gnu, empty,
            )  # fmt: skip
        raise _unsupported("a contents search (needs rg or grep)")

    @staticmethod
    def _no_ignore_files(opts: c.SearchQueryOptions, tool: str) -> None:
        for wanted, name in (
            (opts.use_ignore_files, "use_ignore_files"),
            (opts.use_parent_ignore_files, "use_parent_ignore_files"),
            (opts.use_git_ignore_files, "use_git_ignore_files"),
            (opts.use_global_git_ignore_files, "use_global_git_ignore_files"),
            (opts.use_git_exclude_files, "use_git_exclude_files"),
        ):
            if wanted:
                raise _unsupported(f"the {name} option with {tool} (needs rg)")

    async def _check_pattern(self, p: _Plan) -> None:
        """A pattern the tool rejects (exit status 2 on empty input) is ``invalid_input``."""
        if p.check_argv is None:
            return
        code, _, err = await self._run(p.check_argv)
        if code == 2:
            reason = err.decode("utf-8", "replace").strip() or "rejected by " + p.tool
            raise ApiError(ErrorKind.INVALID_INPUT, f"invalid regex: {reason}")

    # -- the Api operations ----------------------------------------------------------------

    def _table(self, ctx: ApiContext) -> _SearchTable:
        return ctx.connection.resource(_SearchTable)

    async def search(self, ctx: ApiContext, req: rq.Search) -> Response:
        if not isinstance(req.query.condition, c.Contains | c.Equals | c.StartsWith | c.EndsWith):
            validate_pattern(condition_pattern(req.query.condition))
        p = await self._plan(req.query)
        if isinstance(req.query.condition, c.Regex) and not p.empty:
            await self._check_pattern(p)
        table = self._table(ctx)
        search_id, scope = table.start()
        ctx.after_reply(functools.partial(self._drive, ctx, table, search_id, scope, p=p, req=req))
        return rs.SearchStarted(search_id)

    async def cancel_search(self, ctx: ApiContext, req: rq.CancelSearch) -> Response:
        table = ctx.connection.existing(_SearchTable)
        if table is None or not table.cancel(req.id):
            raise ApiError(
                ErrorKind.NOT_FOUND,
                f"[Query {req.id}] Cancellation failed because no search found",
            )
        return rs.Ok()

    async def _drive(
        self,
        ctx: ApiContext,
        table: _SearchTable,
        search_id: int,
        scope: anyio.CancelScope,
        *,
        p: _Plan,
        req: rq.Search,
    ) -> None:
        opts = req.query.options
        matches: list[c.SearchQueryMatch] = []
        try:
            with scope:
                if not p.empty and opts.limit != 0:
                    code, out, err = await self._run(p.argv)
                    matches = self._results(p, out)
                    if code not in (0, 1) and not matches:
                        log.info("search %d: %s exited %s: %r", search_id, p.tool, code, err)
            if opts.limit is not None:
                matches = matches[: opts.limit]
            page = (len(matches) or 1) if opts.pagination is None else max(1, opts.pagination)
            for start in range(0, len(matches), page):
                await ctx.send(rs.SearchResults(search_id, tuple(matches[start : start + page])))
            await ctx.send(rs.SearchDone(search_id))
        finally:
            table.finished(search_id)

    def _results(self, p: _Plan, out: bytes) -> list[c.SearchQueryMatch]:
        found: list[c.SearchQueryMatch] = []
        if p.target is SearchQueryTarget.PATH:
            assert p.matcher is not None
            names = sorted({n.decode("utf-8", "replace") for n in out.split(b"\0") if n})
            for name in self._filter(p, names):
                subs = _submatches(p.matcher, name)
                if subs:
                    found.append(c.PathMatch(name, subs))
            return found
        if p.tool == "rg":
            contents = parse_rg_json(out)
        else:
            contents = parse_grep_output(out, p.matcher, gnu=p.gnu)
        keep = set(self._filter(p, {m.path for m in contents}))
        contents = [m for m in contents if m.path in keep]
        contents.sort(key=lambda m: (m.path, m.line_number))
        return list(contents)

    def _filter(self, p: _Plan, names: Iterable[str]) -> list[str]:
        """The names within ``max_depth`` that pass ``include``/``exclude`` and, with
        ``ignore_hidden``, have no hidden component below their root."""
        kept: list[str] = []
        for name in names:
            rel = _relative(name, p.roots)
            if rel is not None:
                depth = 0 if not rel else rel.count("/") + 1
                if p.max_depth is not None and depth > p.max_depth:
                    continue
                if p.hidden and any(part.startswith(".") for part in rel.split("/") if part):
                    continue
            if p.include is not None and not p.include.search(name):
                continue
            if p.exclude is not None and p.exclude.search(name):
                continue
            kept.append(name)
        return kept


def _relative(name: str, roots: list[str]) -> str | None:
    """``name`` relative to the longest root containing it ("" for a root itself)."""
    best: str | None = None
    for root in roots:
        if name == root:
            return ""
        prefix = root if root.endswith("/") else root + "/"
        if name.startswith(prefix):
            rel = name[len(prefix) :].lstrip("/")
            if best is None or len(rel) < len(best):
                best = rel
    return best


class _SearchTable:
    """The command searches of one connection; cancelled when it closes."""

    def __init__(self) -> None:
        self._scopes: dict[int, anyio.CancelScope] = {}

    def start(self) -> tuple[int, anyio.CancelScope]:
        while True:
            search_id = random.getrandbits(32)
            if search_id not in self._scopes:
                break
        scope = self._scopes[search_id] = anyio.CancelScope()
        return search_id, scope

    def cancel(self, search_id: int) -> bool:
        scope = self._scopes.pop(search_id, None)
        if scope is None:
            return False
        scope.cancel()
        return True

    def finished(self, search_id: int) -> None:
        self._scopes.pop(search_id, None)

    async def aclose(self) -> None:
        for scope in self._scopes.values():
            scope.cancel()
        self._scopes.clear()
