"""``dir_read``: list a directory tree the way distant 0.21's host server does.

The root is canonicalized first (a missing root is an error: ``not_found``). The walk does
not follow symlinks, visits each directory's entries sorted by file name (bytes), and
yields a directory's contents right after the directory itself (pre-order), so the output
is deterministic. ``depth`` limits how deep it goes (1 = the root's own entries,
0 = unlimited); directories below the limit are not even opened.

Entry fields, as upstream reports them (its own tests pin these values):

* ``depth`` counts from the root: **1 for entries directly inside the root**, 2 for their
  children, and so on. With ``include_root`` the root itself comes first at depth 0.
  (The protocol's doc comment says "0 = directly in root", but the Rust server sends 1;
  we match the wire behaviour so both servers answer alike.)
* ``path`` is relative to the canonical root unless ``absolute``. With ``canonicalize``
  each entry's path is resolved first (a symlink shows its target, made relative to the
  root when it lies inside it, else absolute). The root entry is always the canonical
  absolute root path.
* ``file_type`` is ``dir``, ``file`` or ``symlink`` from the entry itself (links are not
  followed, even with ``canonicalize``); other kinds (sockets, FIFOs, devices) count as
  ``symlink``, as upstream.
* Reading a file instead of a directory lists nothing (only the root entry with
  ``include_root``), as upstream's walk does.

Per-entry failures (an unreadable subdirectory, a broken link under ``canonicalize``, a
name that is not UTF-8) go to ``errors`` and the walk goes on. A root that cannot be
listed fails the whole request with its error (upstream answers an empty listing with the
error in ``errors``, which reads like an empty directory).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator

from distant_codec import DirEntry, Error, ErrorKind, FileType
from distant_codec import requests as rq
from distant_codec import responses as rs
from distant_server.api import Api
from distant_server.context import ApiContext
from distant_server.errors import error_from_exception

from .fs_util import file_type_of, in_worker, renamed_errors

__all__ = ["DirReadOps", "read_dir"]


def _sorted_entries(path: str) -> list[os.DirEntry[str]]:
    with os.scandir(path) as it:
        return sorted(it, key=lambda e: os.fsencode(e.name))


def _is_utf8(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def read_dir(
    path: str, depth: int, absolute: bool, canonicalize: bool, include_root: bool
) -> rs.DirEntries:
    root_stat = os.stat(path)  # missing root, loop, no access: the whole request fails
    root = os.path.realpath(path)
    entries: list[DirEntry] = []
    errors: list[Error] = []
    if include_root:
        entries.append(DirEntry(root, file_type_of(root_stat.st_mode), 0))
    if stat.S_ISDIR(root_stat.st_mode):
        with renamed_errors(path):
            first = _sorted_entries(root)  # a root that cannot be listed fails the request
        for entry in _walk(first, depth or None, errors):
            out = _entry_path(entry, root, absolute, canonicalize, errors)
            if out is None:
                continue
            if not _is_utf8(out):
                errors.append(Error(ErrorKind.INVALID_DATA, f"path is not valid UTF-8: {out!r}"))
                continue
            entries.append(DirEntry(out, entry.file_type, entry.depth))
    return rs.DirEntries(tuple(entries), tuple(errors))


class _Found:
    __slots__ = ("depth", "file_type", "path")

    def __init__(self, path: str, file_type: FileType, depth: int) -> None:
        self.path = path
        self.file_type = file_type
        self.depth = depth


def _walk(
    first: list[os.DirEntry[str]], max_depth: int | None, errors: list[Error]
) -> Iterator[_Found]:
    """Pre-order from the root's entries ``first``, sorted, not following links; failures
    are collected in ``errors``."""
    stack: list[tuple[Iterator[os.DirEntry[str]], int]] = [(iter(first), 1)]
    while stack:
        it, level = stack[-1]
        entry = next(it, None)
        if entry is None:
            stack.pop()
            continue
        try:  # d_type from the listing; an lstat only when the filesystem has none
            is_dir = entry.is_dir(follow_symlinks=False)
            kind = (
                FileType.DIR
                if is_dir
                else FileType.FILE
                if entry.is_file(follow_symlinks=False)
                else FileType.SYMLINK
            )
        except OSError as exc:  # vanished since it was listed
            errors.append(error_from_exception(exc))
            continue
        yield _Found(entry.path, kind, level)
        if is_dir and (max_depth is None or level < max_depth):
            try:
                children = _sorted_entries(entry.path)
            except OSError as exc:
                errors.append(error_from_exception(exc))
                continue
            stack.append((iter(children), level + 1))


def _entry_path(
    entry: _Found, root: str, absolute: bool, canonicalize: bool, errors: list[Error]
) -> str | None:
    path = entry.path
    if canonicalize:
        try:
            os.stat(path)  # a broken or looping link fails here, naming the entry
        except OSError as exc:
            errors.append(error_from_exception(exc))
            return None
        path = os.path.realpath(path)
    if not absolute:
        prefix = root if root.endswith(os.sep) else root + os.sep
        if path.startswith(prefix):
            path = path[len(prefix) :]
    return path


class DirReadOps(Api):
    """``dir_read``."""

    async def dir_read(self, ctx: ApiContext, req: rq.DirRead) -> rs.DirEntries:
        return await in_worker(
            read_dir, req.path, req.depth, req.absolute, req.canonicalize, req.include_root
        )
