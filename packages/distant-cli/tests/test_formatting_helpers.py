"""Pure helpers of the channel commands: command lines, environment maps, transfer paths,
change kinds, and the LSP URI translation of ``spawn --lsp``."""

from __future__ import annotations

import json
import shlex

import pytest

from distant_cli.commands.copy import Transfer, parse_transfer_paths
from distant_cli.commands.fs import parse_change_kinds
from distant_cli.commands.spawn import LspTranslator, command_line, parse_environment
from distant_cli.errors import CliError
from distant_codec import ChangeKind


def test_command_line_single_argument_is_a_whole_command_line() -> None:
    assert command_line(["ls -la /tmp"]) == "ls -la /tmp"


def test_command_line_several_arguments_keep_their_words() -> None:
    line = command_line(["sh", "-c", "echo 'a b'; exit 3"])
    assert shlex.split(line) == ["sh", "-c", "echo 'a b'; exit 3"]
    assert command_line(["echo", "hello", "world"]) == "echo hello world"
    assert shlex.split(command_line(["printf", ""])) == ["printf", ""]


def test_environment() -> None:
    assert parse_environment(None) == {}
    assert parse_environment('FOO="bar baz",X=1') == {"FOO": "bar baz", "X": "1"}
    assert parse_environment({"A": "b"}) == {"A": "b"}
    with pytest.raises(CliError, match="--environment"):
        parse_environment("=nokey")


def test_transfer_paths() -> None:
    assert parse_transfer_paths("./a.txt", ":/tmp/b.txt") == Transfer(True, "./a.txt", "/tmp/b.txt")
    assert parse_transfer_paths(":/tmp/b.txt", "out") == Transfer(False, "out", "/tmp/b.txt")
    assert parse_transfer_paths("a", ":") == Transfer(True, "a", "")
    with pytest.raises(CliError, match="Both paths are local"):
        parse_transfer_paths("a", "b")
    with pytest.raises(CliError, match="Both paths are remote"):
        parse_transfer_paths(":a", ":b")


def test_change_kinds() -> None:
    assert parse_change_kinds(["create,delete", "modify", "create"]) == (
        ChangeKind.CREATE,
        ChangeKind.DELETE,
        ChangeKind.MODIFY,
    )
    assert parse_change_kinds([]) == ()
    with pytest.raises(CliError, match="invalid change kind 'nope'"):
        parse_change_kinds(["nope"])


def _lsp(obj: object, content_type: str | None = None) -> bytes:
    body = json.dumps(obj).encode()
    head = f"Content-Length: {len(body)}\r\n"
    if content_type:
        head += f"Content-Type: {content_type}\r\n"
    return head.encode() + b"\r\n" + body


def _parse(data: bytes) -> list[tuple[dict[str, str], object]]:
    out = []
    while data:
        head, _, rest = data.partition(b"\r\n\r\n")
        headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n"))
        n = int(headers["Content-Length"])
        body, data = rest[:n], rest[n:]
        assert len(body) == n
        out.append((headers, json.loads(body)))
    return out


def test_lsp_translation_rewrites_uris_and_lengths() -> None:
    to_server = LspTranslator("distant:", "file:")
    msg = {
        "jsonrpc": "2.0",
        "method": "textDocument/didOpen",
        "params": {
            "textDocument": {"uri": "distant:///home/me/a.rs", "text": "x = 'distant://not-a-uri'"},
            "changes": {"distant:///home/me/b.rs": [1, "distant:///c"]},
        },
    }
    out = to_server.feed(_lsp(msg, "application/vscode-jsonrpc; charset=utf-8"))
    [(headers, obj)] = _parse(out)
    assert headers["Content-Type"] == "application/vscode-jsonrpc; charset=utf-8"
    assert obj == {
        "jsonrpc": "2.0",
        "method": "textDocument/didOpen",
        "params": {
            "textDocument": {"uri": "file:///home/me/a.rs", "text": "x = 'distant://not-a-uri'"},
            "changes": {"file:///home/me/b.rs": [1, "file:///c"]},
        },
    }


def test_lsp_translation_handles_split_and_batched_input() -> None:
    from_server = LspTranslator("file:", "ssh:")
    data = _lsp({"id": 1, "result": {"uri": "file:///x"}}) + _lsp({"id": 2, "result": None})
    out = b""
    for i in range(len(data)):  # one byte at a time
        out += from_server.feed(data[i : i + 1])
    assert [obj for _, obj in _parse(out)] == [
        {"id": 1, "result": {"uri": "ssh:///x"}},
        {"id": 2, "result": None},
    ]
    assert from_server.flush() == b""


def test_lsp_translation_passes_other_data_through() -> None:
    t = LspTranslator("file:", "distant:")
    assert t.feed(b"plain log line\n") == b"plain log line\n"
    # A body that is not JSON goes out as it came, and so does what follows it.
    assert t.feed(b"Content-Length: 5\r\n\r\nnot json") == b"Content-Length: 5\r\n\r\nnot json"
    assert t.feed(b"Content-Le") == b""  # may still become a header
    assert t.flush() == b"Content-Le"
    assert t.feed(b"Content-Length: x\r\n\r\n{}") == b"Content-Length: x\r\n\r\n{}"
