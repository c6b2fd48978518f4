"""Maps ``Msg`` requests to :class:`~distant_server.api.Api` calls (§7.2).

* a single request gets a single reply;
* a batch runs its items concurrently and replies with a batch in request order;
* a batch with header ``{"sequence": true}`` runs in order, and after the first ``error``
  answers every remaining item with ``interrupted``.

Follow-up work registered by the operations starts once the main reply has been sent.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from distant_codec import Error, ErrorKind, Msg, Request
from distant_codec.extensions import ExtendedRequest, ExtendedResponse
from distant_net import ReplyTooLarge

from .api import Api
from .context import ApiContext
from .errors import ApiError, error_from_exception

__all__ = ["dispatch", "call"]

log = logging.getLogger("distant_server")

INTERRUPTED = Error(ErrorKind.INTERRUPTED, "Canceled due to earlier error")


async def call(api: Api, ctx: ApiContext, req: ExtendedRequest) -> ExtendedResponse:
    """One operation; any failure becomes an ``Error`` reply."""
    tag = type(req).TAG
    method: Callable[[ApiContext, Any], Awaitable[ExtendedResponse]] | None = getattr(
        api, str(tag), None
    )
    if method is None:  # pragma: no cover - every request type has a method on Api
        return Error(ErrorKind.UNSUPPORTED, f"{tag} is unsupported")
    try:
        return await method(ctx, req)
    except Exception as exc:
        if not isinstance(exc, ApiError | OSError | TimeoutError):
            log.exception("connection %d: %s failed", ctx.connection_id, tag)
        return error_from_exception(exc)


async def dispatch(
    api: Api,
    ctx: ApiContext,
    request: Request[Msg[ExtendedRequest]],
    reply: Callable[[Msg[ExtendedResponse]], Awaitable[None]],
) -> None:
    """Answer ``request`` through ``reply``, then run the follow-up work it registered."""
    msg = request.payload
    if not msg.is_batch:
        answer = Msg.single(await call(api, ctx, msg.items[0]))
    elif request.header.get("sequence") is True:
        results: list[ExtendedResponse] = []
        failed = False
        for item in msg.items:
            if failed:
                results.append(INTERRUPTED)
                continue
            result = await call(api, ctx, item)
            failed = isinstance(result, Error)
            results.append(result)
        answer = Msg.batch(results)
    else:
        slots: list[ExtendedResponse | None] = [None] * len(msg.items)

        async def run(index: int, item: ExtendedRequest) -> None:
            slots[index] = await call(api, ctx, item)

        async with anyio.create_task_group() as tg:
            for index, item in enumerate(msg.items):
                tg.start_soon(run, index, item)
        answer = Msg.batch([s for s in slots if s is not None])
    try:
        await reply(answer)
    except ReplyTooLarge as exc:
        # e.g. file_read of a file over ~16 MiB: say so, rather than break the link.
        error = Error(
            ErrorKind.OTHER, f"{exc}; read large files in ranges (file_read_range) instead"
        )
        await reply(Msg.batch([error] * len(msg.items)) if msg.is_batch else Msg.single(error))
        return
    followups = ctx.take_followups()
    if followups:
        async with anyio.create_task_group() as tg:
            for work in followups:
                tg.start_soon(work)
