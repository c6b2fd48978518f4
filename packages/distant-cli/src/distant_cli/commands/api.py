"""``distant api``: JSON lines between stdio and a server, for editors (§10).

1. The manager socket's own ``none`` authentication is shown as JSON lines first (the
   answer to ``auth_initialization`` is read from stdin). The manager is never auto-started.
2. ``--connection`` or the selected connection (§12.5); a channel to it.
3. A thread reads stdin: each JSON document must be a ``Request<Msg<Request>>``
   (``{"id": str, "header"?: {...}, "payload": ...}``); unknown top-level keys are ignored;
   anything else is logged and skipped, and the session goes on.
4. The main thread prints every message from the server as one compact
   ``Response<Msg<Response>>`` line, with ``origin_id`` = the request's id.

``--timeout`` is parsed and ignored, as upstream. The command runs until the channel closes
(not at the end of stdin) and then exits 0.
"""

from __future__ import annotations

import logging
import sys
import threading

from distant_cli.auth import JsonAuth, JsonReader
from distant_cli.errors import CliError
from distant_cli.output import print_json
from distant_cli.session import Globals, connect_manager, resolve_connection
from distant_codec import (
    MSG_EXTENDED_REQUEST,
    MSG_EXTENDED_RESPONSE,
    CodecError,
    Request,
    Response,
    UntypedRequest,
    UntypedResponse,
)
from distant_manager.blocking_client import BlockingChannel, ChannelClosed, ManagerError
from distant_net import ConnectionClosed

__all__ = ["api"]

logger = logging.getLogger("distant_cli.api")


def _pump_stdin(reader: JsonReader, channel: BlockingChannel, done: threading.Event) -> None:
    """Read requests from stdin and send them on the channel, until the end of input."""
    try:
        while not done.is_set():
            try:
                doc = reader.read()
            except EOFError:
                logger.debug("api: end of input")
                return
            except ValueError as exc:
                logger.error("api: skipped a line: %s", exc)
                continue
            try:
                request = Request.from_json(doc, MSG_EXTENDED_REQUEST)
            except CodecError as exc:
                logger.error("api: skipped an invalid request: %s", exc)
                continue
            untyped = UntypedRequest(
                request.id, MSG_EXTENDED_REQUEST.encode(request.payload), dict(request.header)
            )
            try:
                channel.send_untyped(untyped)
            except (ConnectionClosed, OSError) as exc:
                logger.error("api: cannot send: %s", exc)
                return
    except Exception:  # never let the reader die silently
        logger.exception("api: the stdin reader failed")


def _print_response(inner: UntypedResponse) -> None:
    try:
        response = Response.from_untyped(inner, MSG_EXTENDED_RESPONSE)
    except CodecError as exc:
        logger.error("api: skipped an undecodable response: %s", exc)
        return
    print_json(response.to_json(MSG_EXTENDED_RESPONSE))


def api(g: Globals, connection: int | None, timeout: float | None = None) -> int:
    """Run the JSON-lines session; returns when the channel closes."""
    del timeout  # parsed and ignored (§15.6)
    g.format = "json"
    reader = JsonReader()
    client = connect_manager(g, auto_start=False, auth=JsonAuth(reader, manager=True))
    try:
        cid = resolve_connection(g, client, connection)
        try:
            channel = client.open_channel(cid)
        except ManagerError as exc:
            raise CliError(f"cannot open a channel to connection {cid}: {exc}") from None
        done = threading.Event()
        thread = threading.Thread(
            target=_pump_stdin, args=(reader, channel, done), name="distant-api-stdin", daemon=True
        )
        thread.start()
        try:
            return _receive_loop(channel)
        finally:
            done.set()
    finally:
        client.close()


def _receive_loop(channel: BlockingChannel) -> int:
    """Print the channel's responses until it closes (exit 0) or the manager goes (1)."""
    while True:
        try:
            inner = channel.receive_untyped()
        except ChannelClosed:
            logger.debug("api: the channel closed")
            sys.stdout.flush()
            return 0
        except ConnectionClosed as exc:
            logger.error("api: the manager connection closed: %s", exc)
            return 1
        except ManagerError as exc:
            logger.error("api: the manager refused a request: %s", exc)
            continue
        except CodecError as exc:
            logger.error("api: skipped a bad message from the manager: %s", exc)
            continue
        _print_response(inner)
