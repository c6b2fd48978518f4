"""The one place that touches asyncio and trio-asyncio: running asyncssh (asyncio-only)
from anyio code, on either backend.

Under **trio** an asyncio event loop must run inside trio (trio-asyncio); under **asyncio**
nothing is needed. So:

* :func:`asyncio_loop` opens that loop (a no-op under asyncio). Everything that touches
  asyncssh (opening the session, every request that uses it) must run inside it: tasks
  spawned inside the context inherit the loop through context variables.
* :func:`aio` awaits an asyncio coroutine function from anyio code.
* :class:`Bridge` remembers, at creation, which side it was made on, and offers
  :meth:`Bridge.call_anyio` for the opposite direction: asyncssh callbacks (host key
  prompts, passwords, accepted reverse-tunnel connections) awaiting anyio code.

Measured cost of one crossing under trio: about 36 µs (DESIGN.md).
"""

from __future__ import annotations

import asyncio  # noqa: TID251 - the bridge module
import heapq
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, ParamSpec, TypeVar

import sniffio

__all__ = ["Bridge", "aio", "aio_gather", "asyncio_loop", "on_trio"]

T = TypeVar("T")
P = ParamSpec("P")


def on_trio() -> bool:
    """True when the calling anyio code runs on trio."""
    try:
        return sniffio.current_async_library() == "trio"
    except sniffio.AsyncLibraryNotFoundError:  # pragma: no cover - called outside async code
        return False


@asynccontextmanager
async def asyncio_loop() -> AsyncIterator[None]:
    """An asyncio loop for asyncssh: trio-asyncio's under trio, nothing under asyncio.

    Reentrant: inside an already open trio-asyncio loop it opens no second one.
    """
    if not on_trio():
        yield
        return
    import trio_asyncio

    if trio_asyncio.current_loop.get() is not None:
        yield
        return
    async with trio_asyncio.open_loop() as loop:
        _run_callbacks_in_batches(loop)
        yield


BATCH = 64
"""asyncio callbacks a trio-asyncio loop runs per trip through trio's scheduler."""


def _run_callbacks_in_batches(loop: Any) -> None:
    """Make ``loop`` (a trio-asyncio loop) run the asyncio callbacks that are ready in
    batches, as asyncio's own loop does, instead of one per trip through trio's scheduler.

    trio-asyncio's main loop takes one callback at a time: a cancel scope for the next timer,
    a channel receive that always yields to trio, then the callback. asyncssh schedules
    several callbacks per SSH packet, so on a bulk SFTP read that round trip was about a
    fifth of the process's CPU time (measured: reading 96 MiB through the ssh Api on trio,
    4.8 -> 3.9 ms of CPU per MiB). After trio-asyncio's own step we run up to :data:`BATCH`
    more callbacks that are already queued, in order, stopping early for a due timer (left
    to trio-asyncio). Order and exception handling are asyncio's; only the yields to trio
    in between are fewer (bounded by BATCH, so trio tasks still get their turns).

    This overrides one method of trio-asyncio 0.16's loop on this instance only; any other
    version, or a loop without the expected internals, is left as it is.
    """
    import trio
    import trio_asyncio

    try:
        from sniffio import thread_local as sniffio_state
        from trio_asyncio._handles import AsyncHandle
    except ImportError:  # pragma: no cover - other versions
        return
    step = getattr(loop, "_main_loop_one", None)
    if trio_asyncio.__version__ != "0.16.0" or step is None:  # pragma: no cover
        return
    if not all(hasattr(loop, name) for name in ("_q_recv", "_timers", "_nursery", "time")):
        return  # pragma: no cover

    async def main_loop_one(no_wait: bool = False) -> None:
        await step(no_wait)
        if no_wait:
            return
        timers = loop._timers
        for _ in range(BATCH):
            if timers and timers[0]._when <= loop.time():
                return
            try:
                handle = loop._q_recv.receive_nowait()
            except (trio.WouldBlock, trio.EndOfChannel):
                return
            if isinstance(handle, asyncio.TimerHandle):
                heapq.heappush(timers, handle)
            elif isinstance(handle, AsyncHandle):
                handle._context.run(loop._nursery.start_soon, handle._run, name=handle._callback)
                await handle._started.wait()
            elif not handle._cancelled:
                previous, sniffio_state.name = sniffio_state.name, "asyncio"
                try:
                    handle._run()
                finally:
                    sniffio_state.name = previous

    loop._main_loop_one = main_loop_one


async def aio(fn: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
    """Await the asyncio coroutine function ``fn(*args, **kwargs)`` from anyio code."""
    if on_trio():
        import trio_asyncio

        result: T = await trio_asyncio.aio_as_trio(fn)(*args, **kwargs)
        return result
    return await fn(*args, **kwargs)


async def aio_gather(*aws: Awaitable[T]) -> list[T]:
    """``asyncio.gather`` for asyncio-side code (a coroutine passed to :func:`aio`): run
    several asyncssh calls concurrently within one crossing."""
    return list(await asyncio.gather(*aws))


class Bridge:
    """Crossings between anyio code and asyncio callbacks, fixed at creation (which must
    happen in anyio code, inside :func:`asyncio_loop`)."""

    def __init__(self) -> None:
        self.trio = on_trio()

    async def aio(self, fn: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        """Await an asyncio coroutine function from anyio code."""
        if self.trio:
            import trio_asyncio

            result: T = await trio_asyncio.aio_as_trio(fn)(*args, **kwargs)
            return result
        return await fn(*args, **kwargs)

    async def call_anyio(
        self, fn: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Await anyio code (``fn``) from an asyncio callback of asyncssh."""
        if self.trio:
            import trio_asyncio

            result: T = await trio_asyncio.trio_as_aio(fn)(*args, **kwargs)
            return result
        return await fn(*args, **kwargs)

    def spawn_anyio(self, fn: Callable[[], Awaitable[Any]]) -> asyncio.Future[Any]:
        """Start anyio code from a synchronous asyncio callback; returns its future."""
        return asyncio.ensure_future(self.call_anyio(fn))
