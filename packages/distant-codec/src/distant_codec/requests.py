"""The 29 request payloads of the distant API (§7.3), one class per ``type``.

Field order is wire order. Fields with a default are omitted when equal to it, except where
the spec says they are always emitted (``set_permissions.options``).
"""

from __future__ import annotations

from typing import Annotated, ClassVar

from .common import ChangeKind, Permissions, PtySize, SearchQuery, SetPermissionsOptions
from .msg import MsgKind
from .schema import ALWAYS, U16, U32, U64, Bin, Struct, TaggedUnion, field, struct

__all__ = [
    "FileRead",
    "FileReadText",
    "FileWrite",
    "FileWriteText",
    "FileAppend",
    "FileAppendText",
    "DirRead",
    "DirCreate",
    "Remove",
    "Copy",
    "Rename",
    "Watch",
    "Unwatch",
    "Exists",
    "Metadata",
    "SetPermissions",
    "Search",
    "CancelSearch",
    "ProcSpawn",
    "ProcKill",
    "ProcStdin",
    "ProcResizePty",
    "SystemInfo",
    "TunnelOpen",
    "TunnelListen",
    "TunnelWrite",
    "TunnelClose",
    "Status",
    "Version",
    "Request",
    "REQUEST",
]


@struct
class FileRead(Struct):
    TAG: ClassVar[str] = "file_read"
    path: str


@struct
class FileReadText(Struct):
    TAG: ClassVar[str] = "file_read_text"
    path: str


@struct
class FileWrite(Struct):
    TAG: ClassVar[str] = "file_write"
    path: str
    data: Bin


@struct
class FileWriteText(Struct):
    TAG: ClassVar[str] = "file_write_text"
    path: str
    text: str


@struct
class FileAppend(Struct):
    TAG: ClassVar[str] = "file_append"
    path: str
    data: Bin


@struct
class FileAppendText(Struct):
    TAG: ClassVar[str] = "file_append_text"
    path: str
    text: str


@struct
class DirRead(Struct):
    """``depth`` 0 means unlimited."""

    TAG: ClassVar[str] = "dir_read"
    path: str
    depth: U64 = 1
    absolute: bool = False
    canonicalize: bool = False
    include_root: bool = False


@struct
class DirCreate(Struct):
    TAG: ClassVar[str] = "dir_create"
    path: str
    all: bool = False


@struct
class Remove(Struct):
    TAG: ClassVar[str] = "remove"
    path: str
    force: bool = False


@struct
class Copy(Struct):
    TAG: ClassVar[str] = "copy"
    src: str
    dst: str


@struct
class Rename(Struct):
    TAG: ClassVar[str] = "rename"
    src: str
    dst: str


@struct
class Watch(Struct):
    """``except_`` is ``except`` on the wire."""

    TAG: ClassVar[str] = "watch"
    path: str
    recursive: bool = False
    only: tuple[ChangeKind, ...] = ()
    except_: tuple[ChangeKind, ...] = ()


@struct
class Unwatch(Struct):
    TAG: ClassVar[str] = "unwatch"
    path: str


@struct
class Exists(Struct):
    TAG: ClassVar[str] = "exists"
    path: str


@struct
class Metadata(Struct):
    TAG: ClassVar[str] = "metadata"
    path: str
    canonicalize: bool = False
    resolve_file_type: bool = False


@struct
class SetPermissions(Struct):
    TAG: ClassVar[str] = "set_permissions"
    path: str
    permissions: Permissions
    options: Annotated[SetPermissionsOptions, ALWAYS] = field(default_factory=SetPermissionsOptions)


@struct
class Search(Struct):
    TAG: ClassVar[str] = "search"
    query: SearchQuery


@struct
class CancelSearch(Struct):
    TAG: ClassVar[str] = "cancel_search"
    id: U32


@struct
class ProcSpawn(Struct):
    """``cmd`` is the whole command line; ``pty`` absent means no PTY."""

    TAG: ClassVar[str] = "proc_spawn"
    cmd: str
    environment: dict[str, str] = field(default_factory=dict)
    current_dir: str | None = None
    pty: PtySize | None = None


@struct
class ProcKill(Struct):
    TAG: ClassVar[str] = "proc_kill"
    id: U32


@struct
class ProcStdin(Struct):
    TAG: ClassVar[str] = "proc_stdin"
    id: U32
    data: Bin


@struct
class ProcResizePty(Struct):
    TAG: ClassVar[str] = "proc_resize_pty"
    id: U32
    size: PtySize


@struct
class SystemInfo(Struct):
    TAG: ClassVar[str] = "system_info"


@struct
class TunnelOpen(Struct):
    TAG: ClassVar[str] = "tunnel_open"
    host: str
    port: U16


@struct
class TunnelListen(Struct):
    """``port`` 0 lets the OS pick."""

    TAG: ClassVar[str] = "tunnel_listen"
    host: str
    port: U16


@struct
class TunnelWrite(Struct):
    TAG: ClassVar[str] = "tunnel_write"
    id: U32
    data: Bin


@struct
class TunnelClose(Struct):
    TAG: ClassVar[str] = "tunnel_close"
    id: U32


@struct
class Status(Struct):
    TAG: ClassVar[str] = "status"


@struct
class Version(Struct):
    TAG: ClassVar[str] = "version"


Request = (
    FileRead | FileReadText | FileWrite | FileWriteText | FileAppend | FileAppendText
    | DirRead | DirCreate | Remove | Copy | Rename | Watch | Unwatch | Exists | Metadata
    | SetPermissions | Search | CancelSearch | ProcSpawn | ProcKill | ProcStdin
    | ProcResizePty | SystemInfo | TunnelOpen | TunnelListen | TunnelWrite | TunnelClose
    | Status | Version
)  # fmt: skip

REQUEST: TaggedUnion[Request] = TaggedUnion(
    "Request",
    [
        FileRead, FileReadText, FileWrite, FileWriteText, FileAppend, FileAppendText,
        DirRead, DirCreate, Remove, Copy, Rename, Watch, Unwatch, Exists, Metadata,
        SetPermissions, Search, CancelSearch, ProcSpawn, ProcKill, ProcStdin,
        ProcResizePty, SystemInfo, TunnelOpen, TunnelListen, TunnelWrite, TunnelClose,
        Status, Version,
    ],
)  # fmt: skip

MSG_REQUEST: MsgKind[Request] = MsgKind(REQUEST)
"""The payload kind of an API request envelope: ``Msg<Request>``."""
