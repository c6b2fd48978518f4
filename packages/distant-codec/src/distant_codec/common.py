"""The common types of the distant API (§7.5): errors, directory entries, metadata,
permissions, changes, search queries and matches, system info, version, PTY size, tunnels."""

from __future__ import annotations

import enum
from typing import Annotated, Any, ClassVar, Union

from .schema import (
    ALWAYS,
    BYTE_ARRAY,
    STR,
    U16,
    U32,
    U64,
    Kind,
    ListKind,
    OptionalKind,
    Struct,
    TaggedUnion,
    Untagged,
    field,
    struct,
)

__all__ = [
    "ErrorKind",
    "Error",
    "FileType",
    "DirEntry",
    "UnixMetadata",
    "WindowsMetadata",
    "Metadata",
    "Permissions",
    "SetPermissionsOptions",
    "ChangeKind",
    "ChangeDetailsAttribute",
    "ChangeDetails",
    "Change",
    "PtySize",
    "SearchQueryTarget",
    "Contains",
    "EndsWith",
    "Equals",
    "Regex",
    "StartsWith",
    "Or",
    "Condition",
    "CONDITION",
    "SearchQueryOptions",
    "SearchQuery",
    "MatchData",
    "MATCH_DATA",
    "Submatch",
    "PathMatch",
    "ContentsMatch",
    "SearchQueryMatch",
    "SEARCH_QUERY_MATCH",
    "SystemInfo",
    "Version",
    "TunnelDirection",
    "TunnelInfo",
]


class ErrorKind(enum.StrEnum):
    """The kinds of :class:`Error`, mirroring ``std::io::ErrorKind`` plus distant's own."""

    NOT_FOUND = "not_found"
    PERMISSION_DENIED = "permission_denied"
    CONNECTION_REFUSED = "connection_refused"
    CONNECTION_RESET = "connection_reset"
    CONNECTION_ABORTED = "connection_aborted"
    NOT_CONNECTED = "not_connected"
    ADDR_IN_USE = "addr_in_use"
    ADDR_NOT_AVAILABLE = "addr_not_available"
    BROKEN_PIPE = "broken_pipe"
    ALREADY_EXISTS = "already_exists"
    WOULD_BLOCK = "would_block"
    INVALID_INPUT = "invalid_input"
    INVALID_DATA = "invalid_data"
    TIMED_OUT = "timed_out"
    WRITE_ZERO = "write_zero"
    INTERRUPTED = "interrupted"
    OTHER = "other"
    UNEXPECTED_EOF = "unexpected_eof"
    UNSUPPORTED = "unsupported"
    OUT_OF_MEMORY = "out_of_memory"
    LOOP = "loop"
    TASK_CANCELLED = "task_cancelled"
    TASK_PANICKED = "task_panicked"
    UNKNOWN = "unknown"


@struct
class Error(Struct):
    """An operation's failure; also the ``error`` response (flattened)."""

    TAG: ClassVar[str] = "error"
    kind: ErrorKind
    description: str


class FileType(enum.StrEnum):
    DIR = "dir"
    FILE = "file"
    SYMLINK = "symlink"


@struct
class DirEntry(Struct):
    """One entry of ``dir_entries``. As distant's host server reports it, entries directly
    inside the root have depth 1, and the root itself (``include_root``) depth 0."""

    path: str
    file_type: FileType
    depth: U64


@struct
class UnixMetadata(Struct):
    owner_read: bool
    owner_write: bool
    owner_exec: bool
    group_read: bool
    group_write: bool
    group_exec: bool
    other_read: bool
    other_write: bool
    other_exec: bool

    @classmethod
    def from_mode(cls, mode: int) -> UnixMetadata:
        return cls(*(bool(mode & bit) for bit in _UNIX_BITS))

    def to_mode(self) -> int:
        return sum(
            bit for bit, name in zip(_UNIX_BITS, _UNIX_NAMES, strict=True) if getattr(self, name)
        )


_UNIX_NAMES = (
    "owner_read", "owner_write", "owner_exec",
    "group_read", "group_write", "group_exec",
    "other_read", "other_write", "other_exec",
)  # fmt: skip
_UNIX_BITS = (0o400, 0o200, 0o100, 0o040, 0o020, 0o010, 0o004, 0o002, 0o001)


@struct
class WindowsMetadata(Struct):
    archive: bool
    compressed: bool
    encrypted: bool
    hidden: bool
    integrity_stream: bool
    normal: bool
    not_content_indexed: bool
    no_scrub_data: bool
    offline: bool
    recall_on_data_access: bool
    recall_on_open: bool
    reparse_point: bool
    sparse_file: bool
    system: bool
    temporary: bool


@struct(kw_only=True)
class Metadata(Struct):
    """File metadata; also the ``metadata`` response (flattened). Times are Unix seconds."""

    TAG: ClassVar[str] = "metadata"
    canonicalized_path: str | None = None
    file_type: FileType
    len: U64
    readonly: bool
    accessed: U64 | None = None
    created: U64 | None = None
    modified: U64 | None = None
    unix: UnixMetadata | None = None
    windows: WindowsMetadata | None = None


@struct
class Permissions(Struct):
    """Permission bits to set; an unset (None) bit is left alone."""

    owner_read: bool | None = None
    owner_write: bool | None = None
    owner_exec: bool | None = None
    group_read: bool | None = None
    group_write: bool | None = None
    group_exec: bool | None = None
    other_read: bool | None = None
    other_write: bool | None = None
    other_exec: bool | None = None

    @classmethod
    def from_mode(cls, mode: int) -> Permissions:
        return cls(*(bool(mode & bit) for bit in _UNIX_BITS))

    def to_mode(self) -> int:
        """The mode these bits describe, unset bits counting as 0 (as upstream does)."""
        return sum(
            bit for bit, name in zip(_UNIX_BITS, _UNIX_NAMES, strict=True) if getattr(self, name)
        )

    def apply_to(self, mode: int) -> int:
        """``mode`` with the set bits applied and the unset bits left as they were."""
        for bit, name in zip(_UNIX_BITS, _UNIX_NAMES, strict=True):
            v = getattr(self, name)
            if v is True:
                mode |= bit
            elif v is False:
                mode &= ~bit
        return mode


@struct
class SetPermissionsOptions(Struct):
    exclude_symlinks: bool = False
    follow_symlinks: bool = False
    recursive: bool = False


class ChangeKind(enum.StrEnum):
    ACCESS = "access"
    ATTRIBUTE = "attribute"
    CLOSE_WRITE = "close_write"
    CLOSE_NO_WRITE = "close_no_write"
    CREATE = "create"
    DELETE = "delete"
    MODIFY = "modify"
    OPEN = "open"
    RENAME = "rename"
    UNKNOWN = "unknown"


class ChangeDetailsAttribute(enum.StrEnum):
    OWNERSHIP = "ownership"
    PERMISSIONS = "permissions"
    TIMESTAMP = "timestamp"


@struct
class ChangeDetails(Struct):
    attribute: ChangeDetailsAttribute | None = None
    renamed: str | None = None
    timestamp: U64 | None = None
    extra: str | None = None


@struct
class Change(Struct):
    """A filesystem change; also the ``changed`` response (flattened)."""

    TAG: ClassVar[str] = "changed"
    timestamp: U64
    kind: ChangeKind
    path: str
    details: ChangeDetails = field(default_factory=ChangeDetails)


@struct
class PtySize(Struct):
    """Terminal size; all four fields are always emitted."""

    rows: U16
    cols: U16
    pixel_width: Annotated[U16, ALWAYS] = 0
    pixel_height: Annotated[U16, ALWAYS] = 0

    @classmethod
    def default(cls) -> PtySize:
        """24 rows by 80 columns, the CLI's default."""
        return cls(24, 80)

    @classmethod
    def parse(cls, text: str) -> PtySize:
        """The CLI form ``rows,cols[,pixel_width,pixel_height]``."""
        parts = [p.strip() for p in text.split(",")]
        if len(parts) not in (2, 4) or not all(p.isdigit() for p in parts):
            raise ValueError(f"invalid pty size {text!r}: expected rows,cols[,pw,ph]")
        nums = [int(p) for p in parts]
        if any(n > 0xFFFF for n in nums):
            raise ValueError(f"invalid pty size {text!r}: values must fit in u16")
        return cls(*nums)


# -- search ----------------------------------------------------------------------------


class SearchQueryTarget(enum.StrEnum):
    PATH = "path"
    CONTENTS = "contents"


@struct
class Contains(Struct):
    TAG: ClassVar[str] = "contains"
    value: str


@struct
class EndsWith(Struct):
    TAG: ClassVar[str] = "ends_with"
    value: str


@struct
class Equals(Struct):
    TAG: ClassVar[str] = "equals"
    value: str


@struct
class Regex(Struct):
    TAG: ClassVar[str] = "regex"
    value: str


@struct
class StartsWith(Struct):
    TAG: ClassVar[str] = "starts_with"
    value: str


@struct
class Or(Struct):
    TAG: ClassVar[str] = "or"
    value: Annotated[tuple[Condition, ...], ListKind(CONDITION)]


Condition = Union[Contains, EndsWith, Equals, Regex, StartsWith, Or]  # noqa: UP007
CONDITION: TaggedUnion[Condition] = TaggedUnion(
    "Condition", [Contains, EndsWith, Equals, Regex, StartsWith, Or]
)


@struct
class SearchQueryOptions(Struct):
    allowed_file_types: tuple[FileType, ...] = ()
    include: Annotated[Condition | None, OptionalKind(CONDITION)] = None
    exclude: Annotated[Condition | None, OptionalKind(CONDITION)] = None
    upward: bool = False
    follow_symbolic_links: bool = False
    limit: U64 | None = None
    max_depth: U64 | None = None
    pagination: U64 | None = None
    ignore_hidden: bool = False
    use_ignore_files: bool = False
    use_parent_ignore_files: bool = False
    use_git_ignore_files: bool = False
    use_global_git_ignore_files: bool = False
    use_git_exclude_files: bool = False


@struct
class SearchQuery(Struct):
    target: SearchQueryTarget
    condition: Annotated[Condition, CONDITION]
    paths: tuple[str, ...]
    options: Annotated[SearchQueryOptions, ALWAYS] = field(default_factory=SearchQueryOptions)


MatchData = str | bytes
"""Text of a match: a string, or raw bytes (a msgpack *array* of ints) when not UTF-8."""

MATCH_DATA: Kind[Any] = Untagged("MatchData", [(str, STR), (bytes, BYTE_ARRAY)])


@struct
class Submatch(Struct):
    match: Annotated[MatchData, MATCH_DATA]
    start: U64
    end: U64


@struct
class PathMatch(Struct):
    TAG: ClassVar[str] = "path"
    path: str
    submatches: tuple[Submatch, ...]


@struct
class ContentsMatch(Struct):
    TAG: ClassVar[str] = "contents"
    path: str
    lines: Annotated[MatchData, MATCH_DATA]
    line_number: U64
    absolute_offset: U64
    submatches: tuple[Submatch, ...]


SearchQueryMatch = PathMatch | ContentsMatch
SEARCH_QUERY_MATCH: TaggedUnion[SearchQueryMatch] = TaggedUnion(
    "SearchQueryMatch", [PathMatch, ContentsMatch]
)


# -- system, version, tunnels ------------------------------------------------------------


@struct
class SystemInfo(Struct):
    """Facts about the remote host; also the ``system_info`` response (flattened)."""

    TAG: ClassVar[str] = "system_info"
    family: str
    os: str
    arch: str
    current_dir: str
    main_separator: str
    username: str
    shell: str


@struct
class Version(Struct):
    """Server and protocol versions; also the ``version`` response (flattened)."""

    TAG: ClassVar[str] = "version"
    server_version: str
    protocol_version: str
    capabilities: tuple[str, ...] = ()


class TunnelDirection(enum.StrEnum):
    FORWARD = "forward"
    REVERSE = "reverse"


@struct
class TunnelInfo(Struct):
    id: U32
    direction: TunnelDirection
    host: str
    port: U16
