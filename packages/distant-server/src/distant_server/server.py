"""Serving an :class:`~distant_server.api.Api` over distant-net connections."""

from __future__ import annotations

from typing import Any

from distant_auth import SecretKey, Verifier
from distant_codec import MSG_EXTENDED_REQUEST, MSG_EXTENDED_RESPONSE, Msg
from distant_codec import requests as rq
from distant_codec.extensions import ExtendedRequest, ExtendedResponse
from distant_net import ConnectionInfo, RequestContext, Server, ServerSettings, Shutdown

from .api import Api
from .context import ApiContext, ConnectionState
from .dispatcher import dispatch

__all__ = ["ApiHandler", "ApiServer", "make_server"]

ApiServer = Server[Msg[ExtendedRequest], Msg[ExtendedResponse], ConnectionState]


class ApiHandler:
    """The distant-net handler that feeds requests to an :class:`Api`."""

    def __init__(self, api: Api) -> None:
        self.api = api

    async def on_connect(self, info: ConnectionInfo) -> ConnectionState:
        return ConnectionState(info.connection_id)

    async def on_request(
        self, ctx: RequestContext[Msg[ExtendedRequest], Msg[ExtendedResponse], ConnectionState]
    ) -> None:
        async def send(payload: ExtendedResponse) -> None:
            await ctx.reply(Msg.single(payload))

        api_ctx = ApiContext(ctx.state, send, request_id=ctx.request.id)
        await dispatch(self.api, api_ctx, ctx.request, ctx.reply)

    async def on_disconnect(self, state: ConnectionState) -> None:
        await state.aclose()

    def lane_of(self, payload: Msg[ExtendedRequest]) -> tuple[str, int] | None:
        """Writes to one process or tunnel run in arrival order (see distant_net.Lanes);
        everything else runs concurrently."""
        if payload.is_batch:
            return None
        item = payload.items[0]
        if isinstance(item, rq.ProcStdin):
            return ("proc", item.id)
        if isinstance(item, rq.TunnelWrite):
            return ("tunnel", item.id)
        return None


def make_server(
    api: Api,
    key: SecretKey,
    *,
    shutdown: Shutdown | None = None,
    **kwargs: Any,
) -> ApiServer:
    """A server for ``api`` that authenticates clients with ``static_key`` (§8.1)."""
    return Server(
        ApiHandler(api),
        request_kind=MSG_EXTENDED_REQUEST,
        response_kind=MSG_EXTENDED_RESPONSE,
        settings=ServerSettings(lambda: Verifier.static_key(key)),
        shutdown=shutdown,
        **kwargs,
    )
