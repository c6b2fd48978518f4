"""The options Map-string of the manager protocol (§9.2): ``k1="v1",k2="v2"``.

On output every value is double-quoted with ``\\`` and ``"`` escaped. On input a value may
be bare (trimmed, up to the next comma) or quoted; keys must start with a letter; a trailing
comma is allowed; the empty string is the empty map.
"""

from __future__ import annotations

from typing import Any

from .errors import CodecError
from .schema import Kind

__all__ = ["parse_options", "format_options", "OPTIONS_MAP"]


def format_options(options: dict[str, str]) -> str:
    def quote(v: str) -> str:
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'

    return ",".join(f"{k}={quote(v)}" for k, v in options.items())


def parse_options(text: str) -> dict[str, str]:
    """Parse a Map-string; raises :class:`CodecError` with the offending position."""
    out: dict[str, str] = {}
    i, n = 0, len(text)

    def skip_ws(j: int) -> int:
        while j < n and text[j].isspace():
            j += 1
        return j

    while True:
        i = skip_ws(i)
        if i >= n:
            return out
        start = i
        if not text[i].isalpha():
            raise CodecError(f"options: a key must start with a letter (at {i} in {text!r})")
        while i < n and text[i] != "=" and text[i] != ",":
            i += 1
        if i >= n or text[i] != "=":
            raise CodecError(f"options: missing '=' after key {text[start:i].strip()!r}")
        key = text[start:i].strip()
        i = skip_ws(i + 1)
        if i < n and text[i] == '"':
            i += 1
            buf: list[str] = []
            while True:
                if i >= n:
                    raise CodecError(f"options: unterminated quoted value for {key!r}")
                c = text[i]
                if c == "\\" and i + 1 < n:
                    buf.append(text[i + 1])
                    i += 2
                    continue
                if c == '"':
                    i += 1
                    break
                buf.append(c)
                i += 1
            value = "".join(buf)
            i = skip_ws(i)
            if i < n and text[i] != ",":
                raise CodecError(f"options: unexpected text after the value of {key!r}")
        else:
            end = text.find(",", i)
            end = n if end < 0 else end
            value = text[i:end].strip()
            i = end
        out[key] = value
        if i < n:  # at a comma
            i += 1


class _OptionsMapKind(Kind[dict[str, str]]):
    name = "Map"

    def to_obj(self, v: dict[str, str]) -> Any:
        return format_options(v)

    def from_obj(self, o: Any, path: str = "") -> dict[str, str]:
        if type(o) is not str:
            raise CodecError(f"{path or 'options'}: expected a Map string, got {type(o).__name__}")
        return parse_options(o)


OPTIONS_MAP: Kind[dict[str, str]] = _OptionsMapKind()
