"""What the channel commands (:mod:`.fs`, :mod:`.copy`, :mod:`.spawn`) share: a channel to
the selected server that speaks the extended API, error conversion and raw output.

Fast-path safe: imports neither click nor anyio.
"""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from distant_cli.errors import CliError
from distant_cli.session import Globals, open_channel
from distant_codec import (
    MSG_EXTENDED_REQUEST,
    CodecError,
    Error,
    Header,
    Msg,
    UntypedRequest,
    new_id,
)

if TYPE_CHECKING:
    from distant_manager.blocking_client import BlockingChannel, BlockingManagerClient

__all__ = [
    "Remote",
    "RemoteError",
    "check",
    "cli_errors",
    "write_stdout",
    "write_stderr",
]

P = ParamSpec("P")
R = TypeVar("R")


class RemoteError(CliError):
    """The server answered ``error``; the message is its description."""

    def __init__(self, error: Error) -> None:
        super().__init__(error.description)
        self.kind = str(error.kind)
        self.error = error


def transport_errors() -> tuple[type[BaseException], ...]:
    """Failures of the manager, the link or the codec (imported on demand)."""
    from distant_manager.blocking_client import ManagerError
    from distant_net import ConnectionClosed

    return (ManagerError, ConnectionClosed, CodecError, OSError)


def cli_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn manager, link and codec failures inside ``fn`` into :class:`CliError`."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except CliError:
            raise
        except transport_errors() as exc:
            raise CliError(str(exc) or type(exc).__name__) from None

    return wrapper


def check(reply: Any) -> Any:
    """``reply`` unless it is an ``error``, which raises :class:`RemoteError`."""
    if isinstance(reply, Error):
        raise RemoteError(reply)
    return reply


class Remote:
    """A channel to the server behind a connection, for one command.

    Requests are encoded with the extended request union and responses decoded with the
    extended response union, so the ``fs_range`` extension goes the same way as everything
    else. Responses are handed out per request id; those for other requests wait in a
    queue. Sending is thread-safe; receiving belongs to one thread.
    """

    def __init__(self, g: Globals, connection: int | None) -> None:
        try:
            client, channel, cid = open_channel(g, connection)
        except CliError:
            raise
        except transport_errors() as exc:
            raise CliError(str(exc) or type(exc).__name__) from None
        self.client: BlockingManagerClient = client
        self.channel: BlockingChannel = channel
        self.connection_id = cid

    # -- sending ---------------------------------------------------------------------------

    def send(
        self, payload: Msg[Any], *, header: Header | None = None, rid: str | None = None
    ) -> str:
        """Send a request (single or batch); returns its id (``rid`` if given)."""
        rid = rid or new_id()
        body = MSG_EXTENDED_REQUEST.encode(payload)
        self.channel.send_untyped(UntypedRequest(rid, body, dict(header or {})))
        return rid

    def send_one(self, request: Any, *, rid: str | None = None) -> str:
        return self.send(Msg.single(request), rid=rid)

    # -- receiving -------------------------------------------------------------------------

    def receive(self) -> tuple[str, Msg[Any]]:
        """The next response to any request: ``(request id, payload)``."""
        response = self.channel.receive()
        return response.origin_id, response.payload

    def receive_for(self, rid: str) -> Msg[Any]:
        """The next response to request ``rid`` (others are queued by the channel)."""
        return self.channel.receive_for(rid).payload

    # -- request / reply -------------------------------------------------------------------

    def call(self, request: Any) -> Any:
        """Send one request and return its reply; :class:`RemoteError` for ``error``."""
        return check(self.receive_for(self.send_one(request)).items[0])

    def batch(self, requests: Sequence[Any], *, sequence: bool = False) -> tuple[Any, ...]:
        """Send a batch; its replies in order (errors included, not raised)."""
        header = {"sequence": True} if sequence else None
        return self.receive_for(self.send(Msg.batch(requests), header=header)).items

    def close(self) -> None:
        with contextlib.suppress(*transport_errors()):
            self.channel.close()
        with contextlib.suppress(*transport_errors()):
            self.client.close()

    def __enter__(self) -> Remote:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_stdout(data: bytes) -> None:
    """Write raw bytes to stdout and flush (data never goes through text I/O)."""
    out = getattr(sys.stdout, "buffer", None)
    if out is None:
        sys.stdout.write(data.decode("utf-8", "replace"))
        sys.stdout.flush()
        return
    sys.stdout.flush()
    out.write(data)
    out.flush()


def write_stderr(text: str) -> None:
    sys.stderr.write(text)
    sys.stderr.flush()
