"""Small output helpers shared by the commands (no click, no anyio: fast-path safe)."""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["rust_debug", "rust_debug_char", "print_json", "print_out", "eprint"]

_ESCAPES = {"\t": "\\t", "\r": "\\r", "\n": "\\n", "\\": "\\\\", "\0": "\\0"}


def _escape(text: str, quote: str) -> str:
    out: list[str] = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch == quote:
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{{{ord(ch):x}}}")
        else:
            out.append(ch)
    return "".join(out)


def rust_debug(text: str) -> str:
    """``format!("{:?}", text)`` of a Rust ``str``: ``"a\\"b"``."""
    return '"' + _escape(text, '"') + '"'


def rust_debug_char(ch: str) -> str:
    """``format!("{:?}", ch)`` of a Rust ``char``: ``'/'``."""
    return "'" + _escape(ch, "'") + "'"


def print_json(obj: Any) -> None:
    """One compact JSON line on stdout, like serde_json's ``to_string``."""
    import json

    sys.stdout.write(json.dumps(obj, separators=(",", ":"), ensure_ascii=False) + "\n")
    sys.stdout.flush()


def print_out(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def eprint(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()
