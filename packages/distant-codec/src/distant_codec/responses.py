"""The 23 response payloads of the distant API (§7.4), one class per ``type``.

``error``, ``metadata``, ``changed``, ``system_info`` and ``version`` are the common types
of §7.5 flattened under their tag, so those classes are re-exported from
:mod:`distant_codec.common` rather than duplicated.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

from .common import (
    SEARCH_QUERY_MATCH,
    Change,
    DirEntry,
    Error,
    Metadata,
    SearchQueryMatch,
    SystemInfo,
    TunnelInfo,
    Version,
)
from .msg import MsgKind
from .schema import I32, U16, U32, Bin, ListKind, Struct, TaggedUnion, struct

__all__ = [
    "Ok",
    "Error",
    "Blob",
    "Text",
    "DirEntries",
    "Changed",
    "Exists",
    "Metadata",
    "SearchStarted",
    "SearchResults",
    "SearchDone",
    "ProcSpawned",
    "ProcStdout",
    "ProcStderr",
    "ProcDone",
    "SystemInfo",
    "Version",
    "TunnelOpened",
    "TunnelListening",
    "TunnelData",
    "TunnelIncoming",
    "TunnelClosed",
    "StatusInfo",
    "Response",
    "RESPONSE",
]

Changed = Change


@struct
class Ok(Struct):
    TAG: ClassVar[str] = "ok"


@struct
class Blob(Struct):
    TAG: ClassVar[str] = "blob"
    data: Bin


@struct
class Text(Struct):
    TAG: ClassVar[str] = "text"
    data: str


@struct
class DirEntries(Struct):
    TAG: ClassVar[str] = "dir_entries"
    entries: tuple[DirEntry, ...]
    errors: tuple[Error, ...]


@struct
class Exists(Struct):
    TAG: ClassVar[str] = "exists"
    value: bool


@struct
class SearchStarted(Struct):
    TAG: ClassVar[str] = "search_started"
    id: U32


@struct
class SearchResults(Struct):
    TAG: ClassVar[str] = "search_results"
    id: U32
    matches: Annotated[tuple[SearchQueryMatch, ...], ListKind(SEARCH_QUERY_MATCH)]


@struct
class SearchDone(Struct):
    TAG: ClassVar[str] = "search_done"
    id: U32


@struct
class ProcSpawned(Struct):
    TAG: ClassVar[str] = "proc_spawned"
    id: U32


@struct
class ProcStdout(Struct):
    TAG: ClassVar[str] = "proc_stdout"
    id: U32
    data: Bin


@struct
class ProcStderr(Struct):
    TAG: ClassVar[str] = "proc_stderr"
    id: U32
    data: Bin


@struct
class ProcDone(Struct):
    """``code`` is absent when the process was killed by a signal."""

    TAG: ClassVar[str] = "proc_done"
    id: U32
    success: bool
    code: I32 | None = None


@struct
class TunnelOpened(Struct):
    TAG: ClassVar[str] = "tunnel_opened"
    id: U32


@struct
class TunnelListening(Struct):
    TAG: ClassVar[str] = "tunnel_listening"
    id: U32
    port: U16


@struct
class TunnelData(Struct):
    TAG: ClassVar[str] = "tunnel_data"
    id: U32
    data: Bin


@struct
class TunnelIncoming(Struct):
    TAG: ClassVar[str] = "tunnel_incoming"
    listener_id: U32
    tunnel_id: U32
    peer_addr: str | None = None


@struct
class TunnelClosed(Struct):
    TAG: ClassVar[str] = "tunnel_closed"
    id: U32


@struct
class StatusInfo(Struct):
    TAG: ClassVar[str] = "status_info"
    tunnels: tuple[TunnelInfo, ...]


Response = (
    Ok | Error | Blob | Text | DirEntries | Change | Exists | Metadata | SearchStarted
    | SearchResults | SearchDone | ProcSpawned | ProcStdout | ProcStderr | ProcDone
    | SystemInfo | Version | TunnelOpened | TunnelListening | TunnelData | TunnelIncoming
    | TunnelClosed | StatusInfo
)  # fmt: skip

RESPONSE: TaggedUnion[Response] = TaggedUnion(
    "Response",
    [
        Ok, Error, Blob, Text, DirEntries, Change, Exists, Metadata, SearchStarted,
        SearchResults, SearchDone, ProcSpawned, ProcStdout, ProcStderr, ProcDone,
        SystemInfo, Version, TunnelOpened, TunnelListening, TunnelData, TunnelIncoming,
        TunnelClosed, StatusInfo,
    ],
)  # fmt: skip

MSG_RESPONSE: MsgKind[Response] = MsgKind(RESPONSE)
"""The payload kind of an API response envelope: ``Msg<Response>``."""
