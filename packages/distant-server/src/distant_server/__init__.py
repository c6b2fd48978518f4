"""distant-server: the distant API on a host.

* :class:`Api`, the interface (every operation defaults to ``unsupported``), and
  :func:`dispatch`, which maps single, batch and sequence requests onto it (§7.2);
* :class:`ApiContext` and :class:`ConnectionState`: what an operation sees, and the
  per-connection resources (processes, watches, tunnels) closed with the connection;
* :func:`make_server`: an :class:`Api` served over distant-net;
* :class:`ReplyBudget` and the ``fs_range`` limits every implementation of the extension
  shares;
* :class:`NetworkTunnelOps`: the ``tunnel_*`` requests over any :class:`TunnelNetwork`
  (its ``connect``, and ``listen`` giving a :class:`TunnelListener` that accepts
  :class:`AcceptedStream` connections), shared by every implementation that carries TCP tunnels.

``pip install distant-server`` is all a remote host needs: the entry point
``distant-server listen`` has the flags and output of ``distant server listen`` (§8.1).
"""

from .api import Api
from .context import ApiContext, ConnectionState, Resource
from .dispatcher import call, dispatch
from .errors import ApiError, decode_utf8, error_from_exception, kind_of_errno, unsupported
from .range_limits import (
    MAX_OFFSET,
    MAX_RANGE_LENGTH,
    REPLY_BUDGET,
    ReplyBudget,
    check_offset,
    check_sha256,
)
from .server import ApiHandler, ApiServer, make_server
from .tunnels import AcceptedStream, NetworkTunnelOps, TunnelListener, TunnelNetwork

__all__ = [
    "Api",
    "ApiContext",
    "ConnectionState",
    "Resource",
    "call",
    "dispatch",
    "ApiError",
    "decode_utf8",
    "error_from_exception",
    "kind_of_errno",
    "unsupported",
    "MAX_OFFSET",
    "MAX_RANGE_LENGTH",
    "REPLY_BUDGET",
    "ReplyBudget",
    "check_offset",
    "check_sha256",
    "ApiHandler",
    "ApiServer",
    "make_server",
    "AcceptedStream",
    "NetworkTunnelOps",
    "TunnelListener",
    "TunnelNetwork",
]
