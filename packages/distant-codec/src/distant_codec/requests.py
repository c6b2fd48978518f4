"""The 29 request payloads of the distant API (§7.3), one class per ``type``.

Field order is wire order. Fields with a default are omitted when equal to it, except where
the spec says they are always emitted (``set_permissions.options``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, ClassVar

from .common import ChangeKind, Permissions, PtySize, SearchQuery, SetPermissionsOptions
from .schema import ALWAYS, U16, U32, U64, Bin, Struct, TaggedUnion

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


@dataclass(frozen=True, slots=True)
class FileRead(Struct):
    TAG: ClassVar[str] = "file_read"
    path: str


@dataclass(frozen=True, slots=True)
class FileReadText(Struct):
    TAG: ClassVar[str] = "file_read_text"
    path: str


@dataclass(frozen=True, slots=True)
class FileWrite(Struct):
    TAG: ClassVar[str] = "file_write"
    path: str
    data: Bin


@dataclass(frozen=True, slots=True)
class FileWriteText(Struct):
    TAG: ClassVar[str] = "file_write_text"
    path: str
    text: str


@dataclass(frozen=True, slots=True)
class FileAppend(Struct):
    TAG: ClassVar[str] = "file_append"
    path: str
    data: Bin


@dataclass(frozen=True, slots=True)
class FileAppendText(Struct):
    TAG: ClassVar[str] = "file_append_text"
    path: str
    text: str


@dataclass(frozen=True, slots=True)
class DirRead(Struct):
    """``depth`` 0 means unlimited."""

    TAG: ClassVar[str] = "dir_read"
    path: str
    depth: U64 = 1
    absolute: bool = False
    canonicalize: bool = False
    include_root: bool = False


@dataclass(frozen=True, slots=True)
class DirCreate(Struct):
    TAG: ClassVar[str] = "dir_create"
    path: str
    all: bool = False


@dataclass(frozen=True, slots=True)
class Remove(Struct):
    TAG: ClassVar[str] = "remove"
    path: str
    force: bool = False


@dataclass(frozen=True, slots=True)
class Copy(Struct):
    TAG: ClassVar[str] = "copy"
    src: str
    dst: str


@dataclass(frozen=True, slots=True)
class Rename(Struct):
    TAG: ClassVar[str] = "rename"
    src: str
    dst: str


@dataclass(frozen=True, slots=True)
class Watch(Struct):
    """``except_`` is ``except`` on the wire."""

    TAG: ClassVar[str] = "watch"
    path: str
    recursive: bool = False
    only: tuple[ChangeKind, ...] = ()
    except_: tuple[ChangeKind, ...] = ()


@dataclass(frozen=True, slots=True)
class Unwatch(Struct):
    TAG: ClassVar[str] = "unwatch"
    path: str


@dataclass(frozen=True, slots=True)
class Exists(Struct):
    TAG: ClassVar[str] = "exists"
    path: str


@dataclass(frozen=True, slots=True)
class Metadata(Struct):
    TAG: ClassVar[str] = "metadata"
    path: str
    canonicalize: bool = False
    resolve_file_type: bool = False


@dataclass(frozen=True, slots=True)
class SetPermissions(Struct):
    TAG: ClassVar[str] = "set_permissions"
    path: str
    permissions: Permissions
    options: Annotated[SetPermissionsOptions, ALWAYS] = field(default_factory=SetPermissionsOptions)


@dataclass(frozen=True, slots=True)
class Search(Struct):
    TAG: ClassVar[str] = "search"
    query: SearchQuery


@dataclass(frozen=True, slots=True)
class CancelSearch(Struct):
    TAG: ClassVar[str] = "cancel_search"
    id: U32


@dataclass(frozen=True, slots=True)
class ProcSpawn(Struct):
    """``cmd`` is the whole command line; ``pty`` absent means no PTY."""

    TAG: ClassVar[str] = "proc_spawn"
    cmd: str
    environment: dict[str, str] = field(default_factory=dict)
    current_dir: str | None = None
    pty: PtySize | None = None


@dataclass(frozen=True, slots=True)
class ProcKill(Struct):
    TAG: ClassVar[str] = "proc_kill"
    id: U32


@dataclass(frozen=True, slots=True)
class ProcStdin(Struct):
    TAG: ClassVar[str] = "proc_stdin"
    id: U32
    data: Bin


@dataclass(frozen=True, slots=True)
class ProcResizePty(Struct):
    TAG: ClassVar[str] = "proc_resize_pty"
    id: U32
    size: PtySize


@dataclass(frozen=True, slots=True)
class SystemInfo(Struct):
    TAG: ClassVar[str] = "system_info"


@dataclass(frozen=True, slots=True)
class TunnelOpen(Struct):
    TAG: ClassVar[str] = "tunnel_open"
    host: str
    port: U16


@dataclass(frozen=True, slots=True)
class TunnelListen(Struct):
    """``port`` 0 lets the OS pick."""

    TAG: ClassVar[str] = "tunnel_listen"
    host: str
    port: U16


@dataclass(frozen=True, slots=True)
class TunnelWrite(Struct):
    TAG: ClassVar[str] = "tunnel_write"
    id: U32
    data: Bin


@dataclass(frozen=True, slots=True)
class TunnelClose(Struct):
    TAG: ClassVar[str] = "tunnel_close"
    id: U32


@dataclass(frozen=True, slots=True)
class Status(Struct):
    TAG: ClassVar[str] = "status"


@dataclass(frozen=True, slots=True)
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
