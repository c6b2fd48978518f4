"""The directory walk of ``search`` (an ``os.scandir`` walk with ripgrep's rules).

Blocking: run it in a worker thread. The walk is a generator that yields ``None`` ticks
between pieces of work so its consumer can stop it at any point.

* Each root is yielded first (depth 0) whatever the ignore rules say. Roots are resolved
  (a root that is a symlink reports its target's type, and one to a directory is walked),
  as the ``ignore`` crate does; a root that does not exist yields nothing.
* Children are yielded in name order, depth first, with depth 1 for a root's entries.
  ``max_depth`` bounds the depth (0 = the roots only) and stops descent, not just output.
* Without ``follow_symbolic_links`` a symlink is reported as ``symlink`` and never walked
  through; with it, it is reported as its target's type and walked if a directory, a
  broken link or a link back to an ancestor (a loop) is skipped.
* Ignored entries (see :mod:`.ignore`) are neither yielded nor descended into.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from typing import NamedTuple

from distant_codec.common import FileType

from .ignore import IgnoreLevel, IgnoreRules

__all__ = ["WalkEntry", "walk"]

_TICK_EVERY = 256


class WalkEntry(NamedTuple):
    path: str
    depth: int
    file_type: FileType | None  # None: neither file, directory nor symlink (fifo, socket…)


def _type_of(mode: int) -> FileType | None:
    if stat.S_ISDIR(mode):
        return FileType.DIR
    if stat.S_ISREG(mode):
        return FileType.FILE
    if stat.S_ISLNK(mode):
        return FileType.SYMLINK
    return None


def _prefix(path: str) -> str:
    return path if path.endswith("/") else path + "/"


class _Dir:
    __slots__ = ("abs_prefix", "depth", "entries", "level", "loop_ids", "prefix")

    def __init__(  # noqa: PLR0917 - a plain record
        self,
        path: str,
        abs_path: str,
        depth: int,
        level: IgnoreLevel | None,
        loop_ids: frozenset[tuple[int, int]],
        entries: Iterator[os.DirEntry[str]],
    ) -> None:
        self.prefix = _prefix(path)
        self.abs_prefix = _prefix(abs_path)
        self.depth = depth
        self.level = level
        self.loop_ids = loop_ids
        self.entries = entries


def _read_dir(path: str) -> Iterator[os.DirEntry[str]] | None:
    try:
        with os.scandir(path) as it:
            return iter(sorted(it, key=lambda e: e.name))
    except OSError:
        return None


def walk(
    roots: list[str],
    *,
    max_depth: int | None,
    follow_links: bool,
    ignore: IgnoreRules | None,
    hidden: bool,
) -> Iterator[WalkEntry | None]:
    """Every entry under ``roots``, with ``None`` ticks between pieces of work."""
    for root in roots:
        yield from _walk_root(root, max_depth, follow_links, ignore, hidden)


def _walk_root(
    root: str,
    max_depth: int | None,
    follow_links: bool,
    ignore: IgnoreRules | None,
    hidden: bool,
) -> Iterator[WalkEntry | None]:
    try:
        st = os.stat(root)
    except (OSError, ValueError):
        yield None
        return
    root_type = _type_of(st.st_mode)
    yield WalkEntry(root, 0, root_type)
    if root_type is not FileType.DIR or (max_depth is not None and max_depth <= 0):
        return
    entries = _read_dir(root)
    if entries is None:
        return
    abs_root = os.path.abspath(root)
    level = ignore.root(abs_root) if ignore is not None else None
    stack = [_Dir(root, abs_root, 0, level, frozenset({(st.st_dev, st.st_ino)}), entries)]
    count = 0
    while stack:
        top = stack[-1]
        de = next(top.entries, None)
        if de is None:
            stack.pop()
            continue
        count += 1
        if count % _TICK_EVERY == 0:
            yield None
        name = de.name
        path = top.prefix + name
        ident: tuple[int, int] | None = None
        try:
            if de.is_symlink():
                if follow_links:
                    target = os.stat(path)
                    file_type = _type_of(target.st_mode)
                    ident = (target.st_dev, target.st_ino)
                    if file_type is FileType.DIR and ident in top.loop_ids:
                        continue  # a link back to an ancestor
                else:
                    file_type = FileType.SYMLINK
            elif de.is_dir(follow_symlinks=False):
                file_type = FileType.DIR
            elif de.is_file(follow_symlinks=False):
                file_type = FileType.FILE
            else:
                file_type = None
        except OSError:
            continue  # vanished, or a broken link being followed
        is_dir = file_type is FileType.DIR
        abs_path = top.abs_prefix + name
        if top.level is not None:
            if top.level.skip(abs_path, name, is_dir):
                continue
        elif hidden and name.startswith("."):
            continue
        depth = top.depth + 1
        yield WalkEntry(path, depth, file_type)
        if not is_dir or (max_depth is not None and depth >= max_depth):
            continue
        children = _read_dir(path)
        yield None
        if children is None:
            continue
        loop_ids = top.loop_ids
        if follow_links:
            if ident is None:
                try:
                    st = de.stat(follow_symlinks=True)
                except OSError:
                    continue
                ident = (st.st_dev, st.st_ino)
            loop_ids = loop_ids | {ident}
        level = top.level.child(abs_path) if top.level is not None else None
        stack.append(_Dir(path, abs_path, depth, level, loop_ids, children))
