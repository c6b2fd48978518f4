"""The pure formatting and parsing of the channel commands (§12.2), byte for byte."""

from __future__ import annotations

import pytest

from distant_cli.commands.formatting import (
    SearchPrinter,
    TunnelSpec,
    change_kind_label,
    exit_code_of,
    format_bytes,
    format_change,
    format_dir_entries,
    format_metadata,
    format_system_info,
    format_tunnel_closed,
    format_tunnel_listening,
    format_tunnel_opened,
    format_tunnel_table,
    parse_permissions_mode,
    parse_shell,
    parse_tunnel_spec,
    rust_debug_char,
    rust_debug_str,
)
from distant_codec import (
    ChangeKind,
    ContentsMatch,
    DirEntry,
    FileType,
    Metadata,
    PathMatch,
    Permissions,
    SystemInfo,
    UnixMetadata,
    WindowsMetadata,
)

# -- Rust {:?} -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", '"plain"'),
        ("/tmp/a b", '"/tmp/a b"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("it's", '"it\'s"'),
        ("back\\slash", '"back\\\\slash"'),
        ("tab\there\nnl\rcr\0nul", '"tab\\there\\nnl\\rcr\\0nul"'),
        ("bell\x07", '"bell\\u{7}"'),
        ("del\x7f", '"del\\u{7f}"'),
        ("héllo ✓", '"héllo ✓"'),
    ],
)
def test_rust_debug_str(text: str, expected: str) -> None:
    assert rust_debug_str(text) == expected


@pytest.mark.parametrize(
    ("ch", "expected"), [("/", "'/'"), ("\\", "'\\\\'"), ("'", "'\\''"), ('"', "'\"'")]
)
def test_rust_debug_char(ch: str, expected: str) -> None:
    assert rust_debug_char(ch) == expected


# -- metadata --------------------------------------------------------------------------------

UNIX = UnixMetadata(True, True, False, True, False, False, True, False, False)


def test_metadata_file_with_unix_permissions() -> None:
    m = Metadata(
        file_type=FileType.FILE,
        len=1024,
        readonly=False,
        accessed=2000,
        created=1000,
        modified=3000,
        unix=UNIX,
    )
    assert format_metadata(m) == (
        "Type: file\n"
        "Len: 1024\n"
        "Readonly: false\n"
        "Created: 1000\n"
        "Last Accessed: 2000\n"
        "Last Modified: 3000\n"
        "Owner Read: true\n"
        "Owner Write: true\n"
        "Owner Exec: false\n"
        "Group Read: true\n"
        "Group Write: false\n"
        "Group Exec: false\n"
        "Other Read: true\n"
        "Other Write: false\n"
        "Other Exec: false\n"
    )


def test_metadata_canonicalized_path_comes_first_and_is_quoted() -> None:
    m = Metadata(canonicalized_path='/real/pa"th', file_type=FileType.SYMLINK, len=0, readonly=True)
    text = format_metadata(m)
    assert text.startswith('Canonicalized Path: "/real/pa\\"th"\nType: symlink\n')
    assert "Readonly: true\n" in text


def test_metadata_unknown_times_are_zero_and_no_platform_block_ends_blank() -> None:
    m = Metadata(file_type=FileType.DIR, len=4096, readonly=False)
    assert format_metadata(m) == (
        "Type: dir\nLen: 4096\nReadonly: false\nCreated: 0\nLast Accessed: 0\nLast Modified: 0\n\n"
    )


def test_metadata_windows_block() -> None:
    w = WindowsMetadata(*(i % 2 == 0 for i in range(15)))
    text = format_metadata(Metadata(file_type=FileType.FILE, len=1, readonly=False, windows=w))
    lines = text.splitlines()
    assert lines[6:] == [
        "Archive: true",
        "Compressed: false",
        "Encrypted: true",
        "Hidden: false",
        "Integrity Stream: true",
        "Normal: false",
        "Not Content Indexed: true",
        "No Scrub Data: false",
        "Offline: true",
        "Recall on Data Access: false",
        "Recall on Open: true",
        "Reparse Point: false",
        "Sparse File: true",
        "System: false",
        "Temporary: true",
    ]
    assert "Owner Read" not in text


# -- fs read ---------------------------------------------------------------------------------


def test_dir_entries() -> None:
    entries = [
        DirEntry("sub", FileType.DIR, 1),
        DirEntry("file.txt", FileType.FILE, 1),
        DirEntry("link", FileType.SYMLINK, 1),
        DirEntry("sub/deep", FileType.FILE, 2),
    ]
    assert format_dir_entries(entries) == (
        "<DIR>     sub\n          file.txt\n<SYMLINK> link\n          sub/deep\n"
    )
    assert format_dir_entries([]) == ""


# -- watch -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "label"),
    [
        (ChangeKind.CREATE, "(Created)"),
        (ChangeKind.DELETE, "(Removed)"),
        (ChangeKind.ACCESS, "(Accessed)"),
        (ChangeKind.OPEN, "(Accessed)"),
        (ChangeKind.CLOSE_WRITE, "(Accessed)"),
        (ChangeKind.CLOSE_NO_WRITE, "(Accessed)"),
        (ChangeKind.MODIFY, "(Modified)"),
        (ChangeKind.ATTRIBUTE, "(Modified)"),
        (ChangeKind.RENAME, "(Renamed)"),
        (ChangeKind.UNKNOWN, "(Affected)"),
        ("create", "(Created)"),
    ],
)
def test_change_kind_labels(kind: ChangeKind | str, label: str) -> None:
    assert change_kind_label(kind) == label


def test_change_line() -> None:
    assert format_change(ChangeKind.MODIFY, "/tmp/x y") == "(Modified) /tmp/x y\n"


# -- system-info -----------------------------------------------------------------------------


def test_system_info() -> None:
    info = SystemInfo("unix", "linux", "x86_64", "/home/me", "/", "me", "/bin/bash")
    assert format_system_info(info) == (
        'Family: "unix"\nOperating System: "linux"\nArch: "x86_64"\nCwd: "/home/me"\n'
        'Path Sep: \'/\'\nUsername: "me"\nShell: "/bin/bash"\n'
    )
    windows = SystemInfo("windows", "windows", "x86_64", "C:\\Users\\me", "\\", "me", "")
    text = format_system_info(windows)
    assert 'Cwd: "C:\\\\Users\\\\me"\n' in text
    assert "Path Sep: '\\\\'\n" in text
    assert text.endswith('Shell: ""\n')


# -- search ----------------------------------------------------------------------------------


def _contents(path: str, line: int, text: str | bytes) -> ContentsMatch:
    return ContentsMatch(path, text, line, 0, ())


def test_search_contents_groups_by_path_with_blank_lines() -> None:
    printer = SearchPrinter()
    out = "".join(
        printer.format(m)
        for m in [
            _contents("/a.txt", 1, "foo bar\n"),
            _contents("/a.txt", 3, "foo again\r\n"),
            _contents("/b.txt", 2, "  foo  \n"),
            _contents("/c.bin", 7, b"foo\xff\n"),
        ]
    )
    assert out == (
        "/a.txt\n1:foo bar\n3:foo again\n"
        "\n/b.txt\n2:  foo\n"
        "\n/c.bin\n7:foo\N{REPLACEMENT CHARACTER}\n"
    )


def test_search_paths_have_no_blank_lines() -> None:
    printer = SearchPrinter()
    out = "".join(printer.format(PathMatch(p, ())) for p in ["/x", "/y", "/y", "/z"])
    assert out == "/x\n/y\n/z\n"


# -- set-permissions -------------------------------------------------------------------------


def test_permission_words() -> None:
    assert parse_permissions_mode("readonly") == Permissions(
        owner_write=False, group_write=False, other_write=False
    )
    assert parse_permissions_mode("  ReadOnly ") == parse_permissions_mode("readonly")
    assert parse_permissions_mode("NotReadOnly") == Permissions(
        owner_write=True, group_write=True, other_write=True
    )


@pytest.mark.parametrize(
    ("mode", "bits"),
    [("755", 0o755), ("644", 0o644), ("000", 0o000), ("777", 0o777), ("0640", 0o640)],
)
def test_permission_octal_sets_all_nine_bits(mode: str, bits: int) -> None:
    p = parse_permissions_mode(mode)
    values = [
        p.owner_read, p.owner_write, p.owner_exec, p.group_read, p.group_write, p.group_exec,
        p.other_read, p.other_write, p.other_exec,
    ]  # fmt: skip
    assert values == [bool(bits & (1 << (8 - i))) for i in range(9)]


def test_permission_symbolic() -> None:
    assert parse_permissions_mode("u+x") == Permissions(owner_exec=True)
    assert parse_permissions_mode("go-w") == Permissions(group_write=False, other_write=False)
    assert parse_permissions_mode("a+r") == Permissions(
        owner_read=True, group_read=True, other_read=True
    )
    assert parse_permissions_mode("+x") == Permissions(
        owner_exec=True, group_exec=True, other_exec=True
    )
    assert parse_permissions_mode("u-rwx") == Permissions(
        owner_read=False, owner_write=False, owner_exec=False
    )
    # "=" sets the class exactly: what it does not grant is removed.
    assert parse_permissions_mode("u=rw") == Permissions(
        owner_read=True, owner_write=True, owner_exec=False
    )
    assert parse_permissions_mode("u+x,g-w") == Permissions(owner_exec=True, group_write=False)
    assert parse_permissions_mode("u+r-w") == Permissions(owner_read=True, owner_write=False)


@pytest.mark.parametrize("mode", ["zzz-invalid", "u+q", "", "9", "u+x,", "u"])
def test_permission_invalid(mode: str) -> None:
    with pytest.raises(ValueError):
        parse_permissions_mode(mode)


# -- tunnels ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "parsed"),
    [
        ("8080:db-host:5432", TunnelSpec(8080, "db-host", 5432)),
        ("3000:localhost:3000", TunnelSpec(3000, "localhost", 3000)),
        ("8080:[::1]:5432", TunnelSpec(8080, "[::1]", 5432)),
        ("0:host:80", TunnelSpec(0, "host", 80)),
        ("8080:192.168.1.1:5432", TunnelSpec(8080, "192.168.1.1", 5432)),
        ("8080:5432", TunnelSpec(8080, "127.0.0.1", 5432)),
    ],
)
def test_tunnel_spec(spec: str, parsed: TunnelSpec) -> None:
    assert parse_tunnel_spec(spec) == parsed


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("8080", "Invalid tunnel spec"),
        ("", "Invalid tunnel spec"),
        ("abc:host:5432", "Invalid bind port"),
        ("8080:host:abc", "Invalid peer port"),
        ("99999:host:80", "Invalid bind port"),
        ("80:host:99999", "Invalid peer port"),
        ("80::81", "Invalid tunnel spec"),
    ],
)
def test_tunnel_spec_invalid(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_tunnel_spec(spec)


def test_tunnel_messages() -> None:
    spec = TunnelSpec(0, "127.0.0.1", 9999)
    assert format_tunnel_opened(1, 54321, spec) == (
        "Tunnel 1 started: 127.0.0.1:54321 -> 127.0.0.1:9999\n"
    )
    assert format_tunnel_listening(2, 40000, spec) == (
        "Tunnel 2 started: remote port 40000 -> 127.0.0.1:9999\n"
    )
    assert format_tunnel_closed(7) == "Tunnel 7 closed\n"


def test_tunnel_table() -> None:
    assert format_tunnel_table([]) == "No active tunnels\n"
    table = format_tunnel_table(
        [(1, "forward", 54321, "127.0.0.1", 9999), (12, "reverse", 8080, "db", 5432)]
    )
    assert table == (
        "ID     Direction  Bind Port    Remote Host                    Remote Port\n"
        "1      forward    54321        127.0.0.1                      9999  \n"
        "12     reverse    8080         db                             5432  \n"
    )


# -- spawn --shell ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shell", "cmd", "expected"),
    [
        ("bash", "echo hello", "bash -c 'echo hello'"),
        ("/bin/sh", "echo 'a'", "/bin/sh -c 'echo '\\''a'\\'''"),
        ("cmd.exe", "echo hello", 'cmd.exe /S /C "echo hello"'),
        ("C:\\Windows\\System32\\cmd.exe", "dir", 'C:\\Windows\\System32\\cmd.exe /S /C "dir"'),
        ("powershell.exe", 'echo "hi"', 'cmd.exe /S /C "powershell.exe -Command echo ""hi"""'),
        ("rc", "echo hello", "rc -c 'echo hello'"),
        ("elvish", "echo 'world'", "elvish -c 'echo ''world'''"),
        ("nu", "echo hello", "nu -c 'echo hello'"),
        ("nu", "echo 'hello'", "nu -c `echo 'hello'`"),
        ("nu", "echo `hello`", "nu -c 'echo `hello`'"),
        ("  ZSH  ", "ls", "ZSH -c 'ls'"),
    ],
)
def test_shell_wrapping(shell: str, cmd: str, expected: str) -> None:
    assert parse_shell(shell).make_cmd_string(cmd) == expected


def test_shell_errors() -> None:
    with pytest.raises(ValueError, match="Unsupported shell: totally_unknown"):
        parse_shell("totally_unknown")
    with pytest.raises(ValueError, match="single quotes and backticks"):
        parse_shell("nu").make_cmd_string("echo 'a' `b`")


# -- misc ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "text"),
    [(0, "0 B"), (1023, "1023 B"), (1024, "1.0 KB"), (1536, "1.5 KB"), (64 << 20, "64.0 MB"),
     (3 << 30, "3.0 GB"), (2 << 40, "2.0 TB")],
)  # fmt: skip
def test_format_bytes(n: int, text: str) -> None:
    assert format_bytes(n) == text


@pytest.mark.parametrize(
    ("success", "code", "exit_code"),
    [(True, 0, 0), (True, None, 0), (False, 3, 3), (False, 300, 44), (False, -1, 255),
     (False, None, 1)],
)  # fmt: skip
def test_exit_code(success: bool, code: int | None, exit_code: int) -> None:
    assert exit_code_of(success, code) == exit_code
