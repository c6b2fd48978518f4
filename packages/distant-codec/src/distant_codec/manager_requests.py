"""The manager requests (§9.2), the payloads a client sends to ``distant manager listen``."""

from __future__ import annotations

from typing import Annotated, ClassVar

from .authentication import AUTHENTICATION_RESPONSE, AuthenticationResponse
from .common import TunnelDirection
from .envelope import UNTYPED_REQUEST, UntypedRequest
from .options_map import OPTIONS_MAP
from .schema import ALWAYS, U16, U32, Struct, TaggedUnion, field, struct

__all__ = [
    "Version",
    "Launch",
    "Connect",
    "Authenticate",
    "OpenChannel",
    "Channel",
    "CloseChannel",
    "Info",
    "Kill",
    "List",
    "ForwardTunnel",
    "ReverseTunnel",
    "CloseManagedTunnel",
    "ListManagedTunnels",
    "ManagerRequest",
    "MANAGER_REQUEST",
    "TunnelDirection",
]

Options = Annotated[dict[str, str], OPTIONS_MAP, ALWAYS]


@struct
class Version(Struct):
    TAG: ClassVar[str] = "version"


@struct
class Launch(Struct):
    TAG: ClassVar[str] = "launch"
    destination: str
    options: Options = field(default_factory=dict)


@struct
class Connect(Struct):
    TAG: ClassVar[str] = "connect"
    destination: str
    options: Options = field(default_factory=dict)


@struct
class Authenticate(Struct):
    """The answer to a relayed prompt ``id`` (§9.4)."""

    TAG: ClassVar[str] = "authenticate"
    id: U32
    msg: Annotated[AuthenticationResponse, AUTHENTICATION_RESPONSE]


@struct
class OpenChannel(Struct):
    """``id`` is the connection id."""

    TAG: ClassVar[str] = "open_channel"
    id: U32


@struct
class Channel(Struct):
    """A request for the server behind channel ``id``, in serde (not positional) form."""

    TAG: ClassVar[str] = "channel"
    id: U32
    request: Annotated[UntypedRequest, UNTYPED_REQUEST]


@struct
class CloseChannel(Struct):
    TAG: ClassVar[str] = "close_channel"
    id: U32


@struct
class Info(Struct):
    TAG: ClassVar[str] = "info"
    id: U32


@struct
class Kill(Struct):
    TAG: ClassVar[str] = "kill"
    id: U32


@struct
class List(Struct):
    TAG: ClassVar[str] = "list"


@struct
class ForwardTunnel(Struct):
    TAG: ClassVar[str] = "forward_tunnel"
    connection_id: U32
    bind_port: U16
    remote_host: str
    remote_port: U16


@struct
class ReverseTunnel(Struct):
    TAG: ClassVar[str] = "reverse_tunnel"
    connection_id: U32
    remote_port: U16
    local_host: str
    local_port: U16


@struct
class CloseManagedTunnel(Struct):
    TAG: ClassVar[str] = "close_managed_tunnel"
    id: U32


@struct
class ListManagedTunnels(Struct):
    TAG: ClassVar[str] = "list_managed_tunnels"


ManagerRequest = (
    Version | Launch | Connect | Authenticate | OpenChannel | Channel | CloseChannel | Info
    | Kill | List | ForwardTunnel | ReverseTunnel | CloseManagedTunnel | ListManagedTunnels
)  # fmt: skip
MANAGER_REQUEST: TaggedUnion[ManagerRequest] = TaggedUnion(
    "ManagerRequest",
    [Version, Launch, Connect, Authenticate, OpenChannel, Channel, CloseChannel, Info, Kill,
     List, ForwardTunnel, ReverseTunnel, CloseManagedTunnel, ListManagedTunnels],
)  # fmt: skip
