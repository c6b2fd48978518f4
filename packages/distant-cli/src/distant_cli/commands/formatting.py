"""Pure formatting and parsing for the client commands (§12.2): no I/O, no click.

Every function here reproduces what distant 0.21 prints, byte for byte, so that scripts
written against the Rust CLI keep working.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NamedTuple

from distant_codec import (
    ChangeKind,
    ContentsMatch,
    DirEntry,
    FileType,
    Metadata,
    Permissions,
    SearchQueryMatch,
    SystemInfo,
)

__all__ = [
    "rust_debug_str",
    "rust_debug_char",
    "format_metadata",
    "format_dir_entries",
    "change_kind_label",
    "format_change",
    "format_system_info",
    "SearchPrinter",
    "parse_permissions_mode",
    "TunnelSpec",
    "parse_tunnel_spec",
    "format_tunnel_opened",
    "format_tunnel_listening",
    "format_tunnel_closed",
    "format_tunnel_table",
    "ShellSpec",
    "parse_shell",
    "format_bytes",
    "exit_code_of",
]


# -- Rust's {:?} for strings and chars -------------------------------------------------------


def _escape(ch: str, quote: str) -> str:
    if ch == "\0":
        return "\\0"
    if ch == "\t":
        return "\\t"
    if ch == "\r":
        return "\\r"
    if ch == "\n":
        return "\\n"
    if ch == "\\":
        return "\\\\"
    if ch == quote:
        return "\\" + quote
    if ch.isprintable():
        return ch
    return f"\\u{{{ord(ch):x}}}"


def rust_debug_str(s: str) -> str:
    """``format!("{:?}", s)`` for a ``str`` / ``Path``: double quotes, ``\\"`` escaped."""
    return '"' + "".join(_escape(ch, '"') for ch in s) + '"'


def rust_debug_char(c: str) -> str:
    """``format!("{:?}", c)`` for a ``char``: single quotes, ``\\'`` escaped."""
    return "'" + "".join(_escape(ch, "'") for ch in c) + "'"


# -- fs metadata -----------------------------------------------------------------------------

_UNIX_LABELS = (
    ("Owner Read", "owner_read"),
    ("Owner Write", "owner_write"),
    ("Owner Exec", "owner_exec"),
    ("Group Read", "group_read"),
    ("Group Write", "group_write"),
    ("Group Exec", "group_exec"),
    ("Other Read", "other_read"),
    ("Other Write", "other_write"),
    ("Other Exec", "other_exec"),
)

_WINDOWS_LABELS = (
    ("Archive", "archive"),
    ("Compressed", "compressed"),
    ("Encrypted", "encrypted"),
    ("Hidden", "hidden"),
    ("Integrity Stream", "integrity_stream"),
    ("Normal", "normal"),
    ("Not Content Indexed", "not_content_indexed"),
    ("No Scrub Data", "no_scrub_data"),
    ("Offline", "offline"),
    ("Recall on Data Access", "recall_on_data_access"),
    ("Recall on Open", "recall_on_open"),
    ("Reparse Point", "reparse_point"),
    ("Sparse File", "sparse_file"),
    ("System", "system"),
    ("Temporary", "temporary"),
)


def _bool(v: bool) -> str:
    return "true" if v else "false"


def format_metadata(m: Metadata) -> str:
    """The text ``distant fs metadata`` prints (the caller adds nothing).

    As upstream: the optional ``Canonicalized Path`` line, the common lines, then the nine
    unix permission lines and/or the fifteen windows attribute lines; timestamps print as
    ``0`` when unknown. With neither unix nor windows data a blank line ends the text.
    """
    out = ""
    if m.canonicalized_path is not None:
        out += f"Canonicalized Path: {rust_debug_str(m.canonicalized_path)}\n"
    out += (
        f"Type: {FileType(m.file_type).value}\n"
        f"Len: {m.len}\n"
        f"Readonly: {_bool(m.readonly)}\n"
        f"Created: {m.created or 0}\n"
        f"Last Accessed: {m.accessed or 0}\n"
        f"Last Modified: {m.modified or 0}\n"
    )
    if m.unix is not None:
        out += "".join(f"{label}: {_bool(getattr(m.unix, a))}\n" for label, a in _UNIX_LABELS)
    if m.windows is not None:
        out += "".join(f"{label}: {_bool(getattr(m.windows, a))}\n" for label, a in _WINDOWS_LABELS)
    if m.unix is None and m.windows is None:
        out += "\n"
    return out


# -- fs read (directory listing) -------------------------------------------------------------

_ENTRY_TAGS = {FileType.DIR: "<DIR>", FileType.FILE: "", FileType.SYMLINK: "<SYMLINK>"}


def format_dir_entries(entries: Iterable[DirEntry]) -> str:
    """One line per entry: the type tag padded to ten columns, then the path."""
    return "".join(f"{_ENTRY_TAGS[FileType(e.file_type)]:<10}{e.path}\n" for e in entries)


# -- fs watch --------------------------------------------------------------------------------


def change_kind_label(kind: ChangeKind | str) -> str:
    """The label upstream prints for a change kind (its "families")."""
    k = ChangeKind(kind)
    if k is ChangeKind.CREATE:
        return "(Created)"
    if k is ChangeKind.DELETE:
        return "(Removed)"
    if k in (ChangeKind.ACCESS, ChangeKind.CLOSE_WRITE, ChangeKind.CLOSE_NO_WRITE, ChangeKind.OPEN):
        return "(Accessed)"
    if k in (ChangeKind.ATTRIBUTE, ChangeKind.MODIFY):
        return "(Modified)"
    if k is ChangeKind.RENAME:
        return "(Renamed)"
    return "(Affected)"


def format_change(kind: ChangeKind | str, path: str) -> str:
    """One ``fs watch`` line, newline included."""
    return f"{change_kind_label(kind)} {path}\n"


# -- system-info -----------------------------------------------------------------------------


def format_system_info(info: SystemInfo) -> str:
    """``distant system-info``: ``{:?}`` quoting, the separator as a char (§12.2)."""
    return (
        f"Family: {rust_debug_str(info.family)}\n"
        f"Operating System: {rust_debug_str(info.os)}\n"
        f"Arch: {rust_debug_str(info.arch)}\n"
        f"Cwd: {rust_debug_str(info.current_dir)}\n"
        f"Path Sep: {rust_debug_char(info.main_separator)}\n"
        f"Username: {rust_debug_str(info.username)}\n"
        f"Shell: {rust_debug_str(info.shell)}\n"
    )


# -- fs search -------------------------------------------------------------------------------


def _lossy(data: str | bytes) -> str:
    return data if isinstance(data, str) else data.decode("utf-8", errors="replace")


class SearchPrinter:
    """Formats search matches as they stream in: a path header whenever the path changes
    (with a blank line between files for contents searches), then ``line_number:line``."""

    def __init__(self) -> None:
        self.last_path: str | None = None

    def format(self, m: SearchQueryMatch) -> str:
        out = ""
        is_contents = isinstance(m, ContentsMatch)
        if m.path != self.last_path:
            if self.last_path is not None and is_contents:
                out += "\n"
            out += f"{m.path}\n"
        if isinstance(m, ContentsMatch):
            out += f"{m.line_number}:{_lossy(m.lines).rstrip()}\n"
        self.last_path = m.path
        return out


# -- fs set-permissions ----------------------------------------------------------------------

_BITS = {  # name -> mask, in Permissions field order
    "owner_read": 0o400,
    "owner_write": 0o200,
    "owner_exec": 0o100,
    "group_read": 0o040,
    "group_write": 0o020,
    "group_exec": 0o010,
    "other_read": 0o004,
    "other_write": 0o002,
    "other_exec": 0o001,
}

_WHO_SHIFT = {"u": 6, "g": 3, "o": 0}
_CLAUSE = re.compile(r"^([ugoa]*)((?:[-+=](?:[rwxXst]*|[ugo]))+)$")
_ACTION = re.compile(r"([-+=])([rwxXst]*|[ugo])")


def _apply_symbolic(mode: int, text: str, is_dir: bool = False) -> int:
    """Apply a chmod symbolic mode (``u+x,go-w``, ``a=r``, ``g=u``) to ``mode``."""
    for clause in text.split(","):
        match = _CLAUSE.match(clause)
        if match is None:
            raise ValueError(f"invalid mode clause {clause!r}")
        who = match.group(1) or "a"
        shifts = sorted(
            {s for w in who for s in (_WHO_SHIFT.values() if w == "a" else [_WHO_SHIFT[w]])}
        )
        for op, perm in _ACTION.findall(match.group(2)):
            if perm in _WHO_SHIFT:  # copy another class's bits, e.g. g=u
                bits = (mode >> _WHO_SHIFT[perm]) & 0o7
            else:
                bits = 0
                if "r" in perm:
                    bits |= 0o4
                if "w" in perm:
                    bits |= 0o2
                if "x" in perm or ("X" in perm and (is_dir or mode & 0o111)):
                    bits |= 0o1
            for shift in shifts:
                mask = 0o7 << shift
                if op == "+":
                    mode |= bits << shift
                elif op == "-":
                    mode &= ~(bits << shift)
                else:
                    mode = (mode & ~mask) | (bits << shift)
    return mode & 0o777


def parse_permissions_mode(mode: str) -> Permissions:
    """``readonly``, ``notreadonly``, an octal mode, or a chmod symbolic mode (as upstream:
    bits a symbolic mode neither sets nor clears stay unset, i.e. unchanged)."""
    word = mode.strip().lower()
    if word == "readonly":
        return Permissions(owner_write=False, group_write=False, other_write=False)
    if word == "notreadonly":
        return Permissions(owner_write=True, group_write=True, other_write=True)
    digits = mode[1:] if mode.startswith("+") else mode
    if digits and all(c in "01234567" for c in digits):
        absolute = int(digits, 8)
        if absolute > 0xFFFFFFFF:
            raise ValueError(f"mode {mode!r} is out of range")
        return Permissions(**{name: bool(absolute & bit) for name, bit in _BITS.items()})
    removals = _apply_symbolic(0o777, mode)  # bits the mode clears
    additions = _apply_symbolic(0o000, mode)  # bits the mode sets
    values: dict[str, bool] = {}
    for name, bit in _BITS.items():
        if additions & bit:
            values[name] = True
        elif not removals & bit:
            values[name] = False
    return Permissions(**values)


# -- tunnels ---------------------------------------------------------------------------------

DEFAULT_TUNNEL_HOST = "127.0.0.1"


class TunnelSpec(NamedTuple):
    """``BIND_PORT:[HOST:]PEER_PORT``: for ``tunnel open`` the local bind port and the
    remote target; for ``tunnel listen`` the remote bind port and the local target."""

    bind_port: int
    host: str
    peer_port: int


def _port(text: str, what: str) -> int:
    if not text.isdigit() or int(text) > 0xFFFF:
        raise ValueError(f"Invalid {what}: {text!r}")
    return int(text)


def parse_tunnel_spec(spec: str) -> TunnelSpec:
    """Parse ``L:[HOST:]R``; the host defaults to 127.0.0.1 and may be ``[::1]``."""
    first = spec.find(":")
    if first < 0:
        raise ValueError(f"Invalid tunnel spec: {spec}")
    bind_port = _port(spec[:first], "bind port")
    rest = spec[first + 1 :]
    last = rest.rfind(":")
    if last < 0:
        host, peer = DEFAULT_TUNNEL_HOST, rest
    else:
        host, peer = rest[:last], rest[last + 1 :]
        if not host:
            raise ValueError(f"Invalid tunnel spec: {spec}")
    return TunnelSpec(bind_port, host, _port(peer, "peer port"))


def format_tunnel_opened(tunnel_id: int, port: int, spec: TunnelSpec) -> str:
    return f"Tunnel {tunnel_id} started: 127.0.0.1:{port} -> {spec.host}:{spec.peer_port}\n"


def format_tunnel_listening(tunnel_id: int, port: int, spec: TunnelSpec) -> str:
    return f"Tunnel {tunnel_id} started: remote port {port} -> {spec.host}:{spec.peer_port}\n"


def format_tunnel_closed(tunnel_id: int) -> str:
    return f"Tunnel {tunnel_id} closed\n"


def format_tunnel_table(rows: Iterable[tuple[int, str, int, str, int]]) -> str:
    """``tunnel list``: ``(id, direction, bind port, remote host, remote port)`` rows in
    upstream's fixed-width columns, or ``No active tunnels``."""
    rows = list(rows)
    if not rows:
        return "No active tunnels\n"
    line = "{:<6} {:<10} {:<12} {:<30} {:<6}\n"
    out = line.format("ID", "Direction", "Bind Port", "Remote Host", "Remote Port")
    for tid, direction, bind_port, host, port in rows:
        out += line.format(tid, direction, bind_port, host, port)
    return out


# -- spawn --shell ---------------------------------------------------------------------------

_SHELL_KINDS = {
    "ash": "posix", "bash": "posix", "cmd": "cmd", "cmd.exe": "cmd", "csh": "posix",
    "dash": "posix", "elvish": "rc", "fish": "posix", "ksh": "posix", "loksh": "posix",
    "mksh": "posix", "nu": "nu", "pdksh": "posix", "powershell": "powershell",
    "powershell.exe": "powershell", "rc": "rc", "scsh": "posix", "sh": "posix",
    "tcsh": "posix", "zsh": "posix",
}  # fmt: skip


class ShellSpec(NamedTuple):
    """A shell to wrap a command in (``spawn --shell``)."""

    path: str
    kind: str

    def make_cmd_string(self, cmd: str) -> str:
        """Wrap ``cmd`` so this shell runs it, quoting as upstream does."""
        path = self.path
        if self.kind == "cmd":
            return f'{path} /S /C "{cmd}"'
        if self.kind == "powershell":
            return 'cmd.exe /S /C "{} -Command {}"'.format(path, cmd.replace('"', '""'))
        if self.kind == "rc":
            return "{} -c '{}'".format(path, cmd.replace("'", "''"))
        if self.kind == "nu":
            if "'" in cmd and "`" in cmd:
                raise ValueError(
                    "unable to escape single quotes and backticks at the same time with nu"
                )
            return f"{path} -c `{cmd}`" if "'" in cmd else f"{path} -c '{cmd}'"
        return "{} -c '{}'".format(path, cmd.replace("'", "'\\''"))


def parse_shell(text: str) -> ShellSpec:
    """A shell name or path (unix or windows); ``ValueError`` if it is not one we know."""
    s = text.strip()
    for candidate in (s, s.rsplit("/", 1)[-1], s.rsplit("\\", 1)[-1]):
        kind = _SHELL_KINDS.get(candidate.strip().lower())
        if kind is not None:
            return ShellSpec(s, kind)
    raise ValueError(f"Unsupported shell: {s}")


# -- misc ------------------------------------------------------------------------------------


def format_bytes(n: int) -> str:
    """Human-readable size, as upstream's copy progress (``1.5 MB``)."""
    for unit, size in (("TB", 1 << 40), ("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def exit_code_of(success: bool, code: int | None) -> int:
    """The CLI's exit code for a finished remote process (§12.4): 0 on success, else the
    remote code truncated to u8, or 1 when it has none (killed by a signal)."""
    if success:
        return 0
    if code is None:
        return 1
    return code & 0xFF
