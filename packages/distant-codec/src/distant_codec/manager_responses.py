"""The manager responses (§9.3)."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from .authentication import AUTHENTICATION, Authentication
from .common import TunnelDirection
from .envelope import UNTYPED_RESPONSE, UntypedResponse
from .errors import CodecError
from .options_map import OPTIONS_MAP
from .schema import ALWAYS, U16, U32, UINT32, Struct, TaggedUnion, field, struct

__all__ = [
    "Killed",
    "Error",
    "Version",
    "Launched",
    "Connected",
    "Authenticate",
    "Info",
    "ConnectionInfo",
    "List",
    "Channel",
    "ChannelOpened",
    "ChannelClosed",
    "ManagedTunnelStarted",
    "ManagedTunnelClosed",
    "ManagedTunnelInfo",
    "ManagedTunnels",
    "ManagerResponse",
    "MANAGER_RESPONSE",
]


@struct
class Killed(Struct):
    TAG: ClassVar[str] = "killed"


@struct
class Error(Struct):
    TAG: ClassVar[str] = "error"
    description: str


@struct
class Version(Struct):
    """The manager's own version, a semver string such as ``0.21.0-dev``."""

    TAG: ClassVar[str] = "version"
    version: str


@struct
class Launched(Struct):
    TAG: ClassVar[str] = "launched"
    destination: str


@struct
class Connected(Struct):
    TAG: ClassVar[str] = "connected"
    id: U32


@struct
class Authenticate(Struct):
    """A prompt relayed from a plugin; answer it with the request of the same ``id``."""

    TAG: ClassVar[str] = "authenticate"
    id: U32
    msg: Annotated[Authentication, AUTHENTICATION]


@struct
class ConnectionInfo(Struct):
    """Also the ``info`` response (flattened)."""

    TAG: ClassVar[str] = "info"
    id: U32
    destination: str
    options: Annotated[dict[str, str], OPTIONS_MAP, ALWAYS] = field(default_factory=dict)


Info = ConnectionInfo


@struct
class List(Struct):
    """Connection id → destination, flattened next to ``type``.

    msgpack keys are integers; JSON keys are decimal strings (§9.3).
    """

    TAG: ClassVar[str] = "list"
    connections: dict[int, str] = field(default_factory=dict)

    def to_obj(self) -> dict[Any, Any]:
        return dict(self.connections)

    def to_json(self) -> dict[str, Any]:
        return {str(k): v for k, v in self.connections.items()}

    @classmethod
    def _decode(cls, o: Any, path: str, skip: str | None, json: bool) -> List:
        path = path or "List"
        if type(o) is not dict:
            raise CodecError(f"{path}: expected a map")
        out: dict[int, str] = {}
        for k, v in o.items():
            if k == skip:
                continue
            key = int(k) if type(k) is str and k.isdigit() else k
            cid = UINT32.from_obj(key, f"{path} key")
            if type(v) is not str:
                raise CodecError(f"{path}.{cid}: expected a destination string")
            out[cid] = v
        return cls(out)


@struct
class Channel(Struct):
    """A response from the server behind channel ``id``, in serde (not positional) form."""

    TAG: ClassVar[str] = "channel"
    id: U32
    response: Annotated[UntypedResponse, UNTYPED_RESPONSE]


@struct
class ChannelOpened(Struct):
    TAG: ClassVar[str] = "channel_opened"
    id: U32


@struct
class ChannelClosed(Struct):
    TAG: ClassVar[str] = "channel_closed"
    id: U32


@struct
class ManagedTunnelStarted(Struct):
    TAG: ClassVar[str] = "managed_tunnel_started"
    id: U32
    port: U16


@struct
class ManagedTunnelClosed(Struct):
    TAG: ClassVar[str] = "managed_tunnel_closed"


@struct
class ManagedTunnelInfo(Struct):
    id: U32
    connection_id: U32
    direction: TunnelDirection
    bind_port: U16
    remote_host: str
    remote_port: U16


@struct
class ManagedTunnels(Struct):
    TAG: ClassVar[str] = "managed_tunnels"
    tunnels: tuple[ManagedTunnelInfo, ...]


ManagerResponse = (
    Killed | Error | Version | Launched | Connected | Authenticate | ConnectionInfo | List
    | Channel | ChannelOpened | ChannelClosed | ManagedTunnelStarted | ManagedTunnelClosed
    | ManagedTunnels
)  # fmt: skip
MANAGER_RESPONSE: TaggedUnion[ManagerResponse] = TaggedUnion(
    "ManagerResponse",
    [Killed, Error, Version, Launched, Connected, Authenticate, ConnectionInfo, List, Channel,
     ChannelOpened, ChannelClosed, ManagedTunnelStarted, ManagedTunnelClosed, ManagedTunnels],
)  # fmt: skip
