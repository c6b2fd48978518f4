"""Helpers for the host filesystem tests (test_host_files*.py).

The tests run as root, for whom most permission checks do not apply. To get real
``permission_denied`` answers, :func:`as_nobody` drops the *effective* uid/gid of the whole
test process (the in-process server's worker threads included: glibc applies
``seteuid`` to every thread) to ``nobody`` for the duration of a request, then restores
root. Paths used that way must live in :func:`shared_dir`, since pytest's own temporary
directories are closed to other users.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

NOBODY = 65534


@contextmanager
def as_nobody() -> Iterator[None]:
    """Act as ``nobody`` (effective ids) inside the block; a no-op when not root."""
    if os.geteuid() != 0:
        yield
        return
    os.setegid(NOBODY)
    os.seteuid(NOBODY)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


@contextmanager
def shared_dir() -> Iterator[str]:
    """A fresh directory under /tmp that other users may enter (mode 0o755)."""
    path = tempfile.mkdtemp(prefix="distant-fs-test-", dir="/tmp")
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def temp_leftovers(directory: str) -> list[str]:
    """Temporary files an atomic write left behind (there must be none)."""
    return [n for n in os.listdir(directory) if ".distant-" in n]


def put(path: str | os.PathLike[str], data: bytes = b"", mode: int | None = None) -> str:
    """Write ``data`` to ``path`` (and chmod it); for test setup inside async tests."""
    with open(path, "wb") as f:
        f.write(data)
    if mode is not None:
        os.chmod(path, mode)
    return os.fspath(path)


def get(path: str | os.PathLike[str]) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def exists(path: str | os.PathLike[str]) -> bool:
    return os.path.exists(path)
