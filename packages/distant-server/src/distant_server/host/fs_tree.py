"""``dir_create``, ``remove``, ``copy``, ``rename`` and ``exists``.

* ``dir_create``: ``all`` creates missing parents and accepts an existing directory
  (``mkdir -p``); without it the parent must exist and the path must not.
* ``remove``: a file or a symlink is unlinked (a link is removed, never its target, even a
  broken one); a directory is removed with ``rmdir`` (so a non-empty one fails with the
  OS error) or, with ``force``, recursively.
* ``copy``: a file (or a link to one) is copied with its permission bits, like upstream's
  ``std::fs::copy`` (contents and mode; not timestamps). A directory is copied recursively
  into ``dst`` (created with its parents if missing; existing contents are kept or
  overwritten file by file); symlinks inside are followed and their targets' contents
  copied, as upstream does; copied directories get their source's permission bits once
  filled. Copying a directory into itself is refused (``invalid_input``).
* ``rename``: ``rename(2)`` (replaces an existing file, or an empty directory with a
  directory; everything else fails as the OS says).
* ``exists``: follows symlinks, so a broken link does not exist (Rust's ``Path::exists``
  semantics with ``try_exists``'s errors: "no such file" and "a component is not a
  directory" answer false, any other failure, e.g. permission denied, is an error).
"""

from __future__ import annotations

import os
import shutil
import stat

from distant_codec import ErrorKind
from distant_codec import requests as rq
from distant_codec import responses as rs
from distant_server.api import Api
from distant_server.context import ApiContext
from distant_server.errors import ApiError

from .fs_util import in_worker

__all__ = ["FsTreeOps", "copy_path", "create_dir", "path_exists", "remove_path"]


def create_dir(path: str, all_: bool) -> None:
    if all_:
        os.makedirs(path, exist_ok=True)
    else:
        os.mkdir(path)


def remove_path(path: str, force: bool) -> None:
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode):
        os.unlink(path)
    elif force:
        shutil.rmtree(path)  # fd-based; raises the first failure, naming that entry
    else:
        os.rmdir(path)


def path_exists(path: str) -> bool:
    try:
        os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return False
    return True


def _copy_file(src: str, dst: str) -> None:
    try:
        shutil.copyfile(src, dst)
    except shutil.SameFileError:
        raise ApiError(
            ErrorKind.INVALID_INPUT, f"source and destination are the same file: {src} -> {dst}"
        ) from None
    except shutil.SpecialFileError as exc:
        raise ApiError(ErrorKind.INVALID_INPUT, f"{exc}: {src}") from None
    shutil.copymode(src, dst)


def _copy_tree(src: str, dst: str) -> None:
    real_src = os.path.realpath(src)
    real_dst = os.path.realpath(dst)
    if real_dst == real_src or real_dst.startswith(real_src.rstrip(os.sep) + os.sep):
        raise ApiError(
            ErrorKind.INVALID_INPUT, f"cannot copy a directory into itself: {src} -> {dst}"
        )
    created: list[tuple[str, str]] = []  # (src dir, dst dir) whose mode to copy at the end
    if not os.path.isdir(dst):
        os.makedirs(dst)
        created.append((src, dst))
    pending = [(src, dst)]
    while pending:
        src_dir, dst_dir = pending.pop()
        with os.scandir(src_dir) as it:
            children = sorted(it, key=lambda e: e.name)
        for child in children:
            target = os.path.join(dst_dir, child.name)
            if child.is_dir(follow_symlinks=False):
                if not os.path.isdir(target):
                    os.mkdir(target)
                    created.append((child.path, target))
                pending.append((child.path, target))
            else:
                _copy_file(child.path, target)  # links: their target's contents
    for src_dir, dst_dir in reversed(created):  # deepest first: a read-only dir last
        shutil.copymode(src_dir, dst_dir)


def copy_path(src: str, dst: str) -> None:
    st = os.stat(src)
    if stat.S_ISDIR(st.st_mode):
        _copy_tree(src, dst)
    else:
        _copy_file(src, dst)


class FsTreeOps(Api):
    """``dir_create``, ``remove``, ``copy``, ``rename``, ``exists``."""

    async def dir_create(self, ctx: ApiContext, req: rq.DirCreate) -> rs.Ok:
        await in_worker(create_dir, req.path, req.all)
        return rs.Ok()

    async def remove(self, ctx: ApiContext, req: rq.Remove) -> rs.Ok:
        await in_worker(remove_path, req.path, req.force)
        return rs.Ok()

    async def copy(self, ctx: ApiContext, req: rq.Copy) -> rs.Ok:
        await in_worker(copy_path, req.src, req.dst)
        return rs.Ok()

    async def rename(self, ctx: ApiContext, req: rq.Rename) -> rs.Ok:
        await in_worker(os.rename, req.src, req.dst)
        return rs.Ok()

    async def exists(self, ctx: ApiContext, req: rq.Exists) -> rs.Exists:
        return rs.Exists(path_exists(req.path))  # inline, as metadata (see there)
