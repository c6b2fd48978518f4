"""``distant fs ...`` (§12.2): one function per subcommand, no click.

Each takes the :class:`~distant_cli.session.Globals` and the ``--connection`` id (``None``
for the selected connection), prints what upstream prints and returns the exit code;
failures raise :class:`~distant_cli.errors.CliError` (a remote error carries the server's
description).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterable, Sequence

from distant_cli.commands.formatting import (
    SearchPrinter,
    format_change,
    format_dir_entries,
    format_metadata,
    parse_permissions_mode,
    rust_debug_str,
)
from distant_cli.commands.remote import (
    Remote,
    RemoteError,
    check,
    cli_errors,
    write_stderr,
    write_stdout,
)
from distant_cli.errors import CliError
from distant_cli.session import Globals
from distant_codec import (
    Change,
    ChangeKind,
    Error,
    Permissions,
    Regex,
    SearchQuery,
    SearchQueryOptions,
    SearchQueryTarget,
    SetPermissionsOptions,
    requests,
    responses,
)

__all__ = [
    "fs_copy",
    "fs_exists",
    "fs_make_dir",
    "fs_metadata",
    "fs_read",
    "fs_remove",
    "fs_rename",
    "fs_search",
    "fs_set_permissions",
    "fs_watch",
    "fs_write",
    "parse_change_kinds",
]

INTERRUPTED = 130
"""Exit code after Ctrl-C ends a streaming command (``watch``, ``search``)."""


@cli_errors
def fs_copy(g: Globals, connection: int | None, src: str, dst: str) -> int:
    """``fs copy SRC DST``: copy on the remote machine."""
    with Remote(g, connection) as remote:
        remote.call(requests.Copy(src, dst))
    return 0


@cli_errors
def fs_rename(g: Globals, connection: int | None, src: str, dst: str) -> int:
    """``fs rename SRC DST``."""
    with Remote(g, connection) as remote:
        remote.call(requests.Rename(src, dst))
    return 0


@cli_errors
def fs_exists(g: Globals, connection: int | None, path: str) -> int:
    """``fs exists PATH``: prints ``true`` or ``false``."""
    with Remote(g, connection) as remote:
        reply = remote.call(requests.Exists(path))
    write_stdout(b"true\n" if reply.value else b"false\n")
    return 0


@cli_errors
def fs_make_dir(g: Globals, connection: int | None, path: str, *, all: bool = False) -> int:
    """``fs make-dir PATH [--all]``."""
    with Remote(g, connection) as remote:
        remote.call(requests.DirCreate(path, all))
    return 0


@cli_errors
def fs_remove(g: Globals, connection: int | None, path: str, *, force: bool = False) -> int:
    """``fs remove PATH [--force]``."""
    with Remote(g, connection) as remote:
        remote.call(requests.Remove(path, force))
    return 0


@cli_errors
def fs_metadata(
    g: Globals,
    connection: int | None,
    path: str,
    *,
    canonicalize: bool = False,
    resolve_file_type: bool = False,
) -> int:
    """``fs metadata PATH [--canonicalize] [--resolve-file-type]``."""
    with Remote(g, connection) as remote:
        reply = remote.call(requests.Metadata(path, canonicalize, resolve_file_type))
    write_stdout(format_metadata(reply).encode("utf-8", "surrogateescape"))
    return 0


@cli_errors
def fs_read(
    g: Globals,
    connection: int | None,
    path: str,
    *,
    depth: int = 1,
    absolute: bool = False,
    canonicalize: bool = False,
    include_root: bool = False,
) -> int:
    """``fs read PATH``: a batch ``[file_read, dir_read]``; prints the file's bytes or the
    directory's entries, whichever succeeded; the first error if both failed."""
    with Remote(g, connection) as remote:
        replies = remote.batch(
            [
                requests.FileRead(path),
                requests.DirRead(path, depth, absolute, canonicalize, include_root),
            ]
        )
    errors: list[Error] = []
    for reply in replies:
        if isinstance(reply, responses.DirEntries):
            write_stdout(format_dir_entries(reply.entries).encode("utf-8", "surrogateescape"))
            return 0
        if isinstance(reply, responses.Blob):
            write_stdout(reply.data)
            return 0
        if isinstance(reply, Error):
            errors.append(reply)
    if errors:
        raise RemoteError(errors[0])
    return 0


def _data_bytes(data: str | bytes) -> bytes:
    return data if isinstance(data, bytes) else os.fsencode(data)


def _read_stdin() -> bytes:
    stdin = sys.stdin
    if stdin is None:
        return b""
    buffer = getattr(stdin, "buffer", None)
    if buffer is not None:
        return bytes(buffer.read())
    return stdin.read().encode()


@cli_errors
def fs_write(
    g: Globals,
    connection: int | None,
    path: str,
    data: str | bytes | None = None,
    *,
    append: bool = False,
) -> int:
    """``fs write PATH [DATA] [--append]``: DATA, or all of stdin when it is absent."""
    payload = _read_stdin() if data is None else _data_bytes(data)
    with Remote(g, connection) as remote:
        if append:
            remote.call(requests.FileAppend(path, payload))
        else:
            remote.call(requests.FileWrite(path, payload))
    return 0


@cli_errors
def fs_set_permissions(
    g: Globals,
    connection: int | None,
    mode: str,
    path: str,
    *,
    recursive: bool = False,
    follow_symlinks: bool = False,
) -> int:
    """``fs set-permissions MODE PATH [-R] [-L]``."""
    try:
        permissions: Permissions = parse_permissions_mode(mode)
    except ValueError as exc:
        raise CliError(f"Failed to parse mode string: {exc}") from None
    options = SetPermissionsOptions(
        exclude_symlinks=False, follow_symlinks=follow_symlinks, recursive=recursive
    )
    with Remote(g, connection) as remote:
        remote.call(requests.SetPermissions(path, permissions, options))
    return 0


def parse_change_kinds(values: Iterable[str]) -> tuple[ChangeKind, ...]:
    """``--only``/``--except`` values: repeated and/or comma-separated change kinds."""
    kinds: list[ChangeKind] = []
    for value in values:
        for raw in value.split(","):
            word = raw.strip()
            if not word:
                continue
            try:
                kind = ChangeKind(word)
            except ValueError:
                valid = ", ".join(k.value for k in ChangeKind)
                raise CliError(f"invalid change kind {word!r} (expected one of: {valid})") from None
            if kind not in kinds:
                kinds.append(kind)
    return tuple(kinds)


@cli_errors
def fs_watch(
    g: Globals,
    connection: int | None,
    path: str,
    *,
    recursive: bool = False,
    only: Iterable[str | ChangeKind] = (),
    except_: Iterable[str | ChangeKind] = (),
) -> int:
    """``fs watch PATH``: one ``(Kind) path`` line per change until interrupted."""
    only_kinds = parse_change_kinds(str(k) for k in only)
    except_kinds = parse_change_kinds(str(k) for k in except_)
    with Remote(g, connection) as remote:
        rid = remote.send_one(requests.Watch(path, recursive, only_kinds, except_kinds))
        try:
            check(remote.receive_for(rid).items[0])
            if not g.quiet:
                write_stderr(f"Watching {rust_debug_str(path)}\n")
            while True:
                for item in remote.receive_for(rid).items:
                    if isinstance(item, Change):
                        line = format_change(item.kind, item.path)
                        write_stdout(line.encode("utf-8", "surrogateescape"))
                    elif isinstance(item, Error):
                        raise RemoteError(item)
        except KeyboardInterrupt:
            with contextlib.suppress(Exception):
                remote.send_one(requests.Unwatch(path))
            return INTERRUPTED


@cli_errors
def fs_search(
    g: Globals,
    connection: int | None,
    pattern: str,
    paths: Sequence[str] = (),
    *,
    target: str = "contents",
    include: str | None = None,
    exclude: str | None = None,
    upward: bool = False,
    follow_symbolic_links: bool = False,
    limit: int | None = None,
    max_depth: int | None = None,
    pagination: int | None = None,
    ignore_hidden: bool = False,
    use_ignore_files: bool = False,
    use_parent_ignore_files: bool = False,
    use_git_ignore_files: bool = False,
    use_global_git_ignore_files: bool = False,
    use_git_exclude_files: bool = False,
) -> int:
    """``fs search PATTERN [PATHS...]``: PATTERN is a regex; prints matches as they come
    (a path header per file, then ``line_number:line`` for contents matches)."""
    try:
        search_target = SearchQueryTarget(target)
    except ValueError:
        raise CliError(f"invalid target {target!r} (expected contents or path)") from None
    options = SearchQueryOptions(
        include=Regex(include) if include is not None else None,
        exclude=Regex(exclude) if exclude is not None else None,
        upward=upward,
        follow_symbolic_links=follow_symbolic_links,
        limit=limit,
        max_depth=max_depth,
        pagination=pagination,
        ignore_hidden=ignore_hidden,
        use_ignore_files=use_ignore_files,
        use_parent_ignore_files=use_parent_ignore_files,
        use_git_ignore_files=use_git_ignore_files,
        use_global_git_ignore_files=use_global_git_ignore_files,
        use_git_exclude_files=use_git_exclude_files,
    )
    query = SearchQuery(search_target, Regex(pattern), tuple(paths) or (".",), options)
    printer = SearchPrinter()
    search_id: int | None = None
    with Remote(g, connection) as remote:
        rid = remote.send_one(requests.Search(query))
        try:
            while True:
                for item in remote.receive_for(rid).items:
                    if isinstance(item, Error):
                        raise RemoteError(item)
                    if isinstance(item, responses.SearchStarted):
                        search_id = item.id
                    elif isinstance(item, responses.SearchResults):
                        text = "".join(printer.format(m) for m in item.matches)
                        if text:
                            write_stdout(text.encode("utf-8", "surrogateescape"))
                    elif isinstance(item, responses.SearchDone):
                        return 0
        except KeyboardInterrupt:
            if search_id is not None:
                with contextlib.suppress(Exception):
                    remote.send_one(requests.CancelSearch(search_id))
            return INTERRUPTED


def __getattr__(name: str) -> object:
    """``fs_group``, the click group, imported on first use (keeps click off the fast path)."""
    if name == "fs_group":
        from distant_cli.commands.fs_click import fs_group

        return fs_group
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
