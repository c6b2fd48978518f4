"""Background tasks that outlive the call that starts them: the bridge module of the ssh
plugin (the only place it touches asyncio or trio directly, as DESIGN.md allows).

An :class:`~distant_plugins.ssh.session.SshSession` is a plain object returned by an async
opener, not an ``async with`` block, so it has no task group of its own; yet its SFTP reply
reader and its reverse-forward accept loops must run for as long as the session does.
:func:`spawn_detached` starts such a task on the running event loop (a trio *system task*
or an asyncio task) inside a cancel scope the returned :class:`Detached` handle cancels.
Exceptions are logged, never propagated (a detached task has no one to report to).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

import anyio

__all__ = ["Detached", "spawn_detached"]

_log = logging.getLogger(__name__)
_asyncio_tasks: set[Any] = set()


class Detached:
    """A handle on a detached task: :meth:`cancel` it, or wait until it has ended."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.scope = anyio.CancelScope()
        self.finished = anyio.Event()

    def __repr__(self) -> str:
        return f"<Detached {self.name} {'finished' if self.finished.is_set() else 'running'}>"

    def cancel(self) -> None:
        self.scope.cancel()

    async def cancel_and_wait(self) -> None:
        self.scope.cancel()
        await self.finished.wait()


def spawn_detached(
    func: Callable[..., Coroutine[Any, Any, Any]], *args: object, name: str = ""
) -> Detached:
    """Run ``func(*args)`` in the background of the current event loop."""
    handle = Detached(name or getattr(func, "__qualname__", "task"))

    async def runner() -> None:
        try:
            with handle.scope:
                await func(*args)
        except Exception:
            _log.exception("detached task %s failed", handle.name)
        finally:
            handle.finished.set()

    import sniffio

    if sniffio.current_async_library() == "trio":
        import trio

        trio.lowlevel.spawn_system_task(runner, name=handle.name)
    else:
        import asyncio  # noqa: TID251 - the bridge module

        task = asyncio.get_running_loop().create_task(runner(), name=handle.name)
        _asyncio_tasks.add(task)
        task.add_done_callback(_asyncio_tasks.discard)
    return handle
