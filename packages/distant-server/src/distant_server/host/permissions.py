"""``set_permissions``: change permission bits of a path, optionally of a whole tree.

Bits: when all nine bits are given (what ``distant fs set-permissions 644`` sends) the
mode becomes exactly those bits, like ``chmod 644``. When only some are given (e.g.
``readonly`` = every write bit false) the others, and the set-id/sticky bits, are kept,
like ``chmod a-w``.

Symlinks: Linux cannot change a link's own mode, and ``chmod`` acts on the target.

* The path given is handled like ``chmod``'s argument: a link there changes its target
  (unless ``exclude_symlinks``). With ``follow_symlinks`` the path is resolved first.
* Links met while walking a tree (``recursive``) are **skipped** unless
  ``follow_symlinks``: then the target is changed (unless ``exclude_symlinks``) and a
  linked directory is walked too, each directory once (no loops). Upstream's walker would
  change the target of every link it meets even without ``follow_symlinks``, i.e. files
  outside the tree; we do not.

Every entry is attempted; failures are collected. One failure is raised as it is (its
own kind, naming its path); several become one error of the first one's kind with one
``* <reason>: <path>`` line each, as upstream lists them.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator

from distant_codec import Permissions, SetPermissionsOptions
from distant_codec import requests as rq
from distant_codec import responses as rs
from distant_server.api import Api
from distant_server.context import ApiContext
from distant_server.errors import ApiError, error_from_exception

from .fs_util import in_worker

__all__ = ["PermissionsOps", "set_permissions"]

_ALL_BITS = (
    "owner_read", "owner_write", "owner_exec",
    "group_read", "group_write", "group_exec",
    "other_read", "other_write", "other_exec",
)  # fmt: skip


def _new_mode(perms: Permissions, current: int) -> int:
    if all(getattr(perms, name) is not None for name in _ALL_BITS):
        return perms.to_mode()
    return perms.apply_to(stat.S_IMODE(current))


def _chmod(path: str, perms: Permissions) -> None:
    st = os.stat(path)  # follows a link: its target is what chmod changes
    mode = _new_mode(perms, st.st_mode)
    if mode != stat.S_IMODE(st.st_mode):
        os.chmod(path, mode)


def _tree(root: str, follow: bool, errors: list[OSError]) -> Iterator[tuple[str, bool]]:
    """Every entry below ``root`` as ``(path, is_symlink)``, pre-order."""
    seen: set[tuple[int, int]] = set()
    try:
        st = os.stat(root)
        seen.add((st.st_dev, st.st_ino))
    except OSError as exc:
        errors.append(exc)
        return
    pending = [root]
    while pending:
        directory = pending.pop()
        try:
            with os.scandir(directory) as it:
                children = list(it)
        except OSError as exc:
            errors.append(exc)
            continue
        for child in children:
            try:
                is_link = child.is_symlink()
                is_dir = child.is_dir(follow_symlinks=follow)
            except OSError as exc:
                errors.append(exc)
                continue
            if is_link and not follow:
                continue
            yield child.path, is_link
            if is_dir:
                try:
                    st = child.stat(follow_symlinks=True)
                except OSError as exc:
                    errors.append(exc)
                    continue
                key = (st.st_dev, st.st_ino)
                if key not in seen:
                    seen.add(key)
                    pending.append(child.path)


def set_permissions(path: str, perms: Permissions, options: SetPermissionsOptions) -> None:
    if options.follow_symlinks:
        os.stat(path)  # the target must exist; fails naming the path
        path = os.path.realpath(path)
    root_is_link = stat.S_ISLNK(os.lstat(path).st_mode)  # a missing path fails here
    errors: list[OSError] = []
    if not (root_is_link and options.exclude_symlinks):
        try:
            _chmod(path, perms)
        except OSError as exc:
            errors.append(exc)
    if options.recursive and not root_is_link and os.path.isdir(path):
        for entry, is_link in _tree(path, options.follow_symlinks, errors):
            if is_link and options.exclude_symlinks:
                continue
            try:
                _chmod(entry, perms)
            except OSError as exc:
                errors.append(exc)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        first = error_from_exception(errors[0])
        lines = "\n".join(f"* {error_from_exception(e).description}" for e in errors)
        raise ApiError(first.kind, lines)


class PermissionsOps(Api):
    """``set_permissions``."""

    async def set_permissions(self, ctx: ApiContext, req: rq.SetPermissions) -> rs.Ok:
        await in_worker(set_permissions, req.path, req.permissions, req.options)
        return rs.Ok()
