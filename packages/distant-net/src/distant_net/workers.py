"""A pool of long-lived tasks that handle one connection's requests.

Starting a task per request costs about 20 us through anyio; reusing idle workers avoids
most of that. A request never waits behind another: when no worker is idle, a new one is
started, so concurrency is as with one task per request. Idle workers beyond
``max_idle`` end.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

import anyio
import anyio.abc
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

__all__ = ["WorkerPool", "Lanes"]

T = TypeVar("T")


class WorkerPool(Generic[T]):
    def __init__(
        self,
        tg: anyio.abc.TaskGroup,
        handle: Callable[[T], Awaitable[None]],
        *,
        max_idle: int = 16,
    ) -> None:
        self._tg = tg
        self._handle = handle
        self._max_idle = max_idle
        self._idle = 0  # workers waiting for a job that no queued job has claimed yet
        self._send: MemoryObjectSendStream[T]
        self._receive: MemoryObjectReceiveStream[T]
        self._send, self._receive = anyio.create_memory_object_stream[T](math.inf)

    def submit(self, job: T) -> None:
        """Queue ``job``; it is picked up by an idle worker, or by a new one."""
        if self._idle:
            self._idle -= 1  # that worker is now spoken for
        else:
            self._tg.start_soon(self._work)
        self._send.send_nowait(job)

    async def _work(self) -> None:
        receive = self._receive
        while True:
            try:
                job = await receive.receive()
            except (anyio.EndOfStream, anyio.ClosedResourceError):
                return
            await self._handle(job)
            if self._idle >= self._max_idle:
                return
            self._idle += 1

    def close(self) -> None:
        self._send.close()


class Lanes(Generic[T]):
    """Jobs that must run one after another, in arrival order, per key (a lane).

    Writes to one process's stdin or to one tunnel are such jobs: run concurrently, two
    of them could reach the process in either order. A lane's task exists only while it
    has work, so idle lanes cost nothing.
    """

    def __init__(self, tg: anyio.abc.TaskGroup, handle: Callable[[T], Awaitable[None]]) -> None:
        self._tg = tg
        self._handle = handle
        self._queues: dict[Hashable, deque[T]] = {}

    def submit(self, key: Hashable, job: T) -> None:
        queue = self._queues.get(key)
        if queue is not None:
            queue.append(job)
            return
        queue = self._queues[key] = deque([job])
        self._tg.start_soon(self._drain, key, queue)

    async def _drain(self, key: Hashable, queue: deque[T]) -> None:
        try:
            while queue:
                await self._handle(queue[0])
                queue.popleft()
        finally:
            del self._queues[key]
