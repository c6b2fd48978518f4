"""Destinations and credentials (§8.1, §9.4): ``scheme://[user][:password]@host[:port]``.

A distant server's credentials are the destination ``distant://:KEY@HOST:PORT`` where KEY
is the 64-hex-digit static key and HOST the bound IP address (bracketed for IPv6).
:func:`find_credentials` scans a server's output for them, as a launcher does.
"""

from __future__ import annotations

import re

from ._records import struct
from .errors import CodecError

__all__ = ["Destination", "find_credentials", "format_credentials"]

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")


@struct
class Destination:
    """A parsed destination; ``host`` holds no brackets (``::1``, not ``[::1]``)."""

    host: str
    scheme: str | None = None
    username: str | None = None
    password: str | None = None
    port: int | None = None

    @classmethod
    def parse(cls, text: str) -> Destination:
        """Parse ``[scheme://][user][:password]@host[:port]`` (the scheme is lowercased)."""
        rest = text.strip()
        if not rest:
            raise CodecError("destination: empty")
        scheme = None
        m = _SCHEME.match(rest)
        if m:
            scheme = m.group(1).lower()
            rest = rest[m.end() :]
        username = password = None
        if "@" in rest:
            userinfo, rest = rest.rsplit("@", 1)
            user, sep, secret = userinfo.partition(":")
            username = user or None
            password = secret if sep else None
        host, port = _split_host_port(rest, text)
        if not host:
            raise CodecError(f"destination {text!r}: missing host")
        return cls(host, scheme, username, password, port)

    def __str__(self) -> str:
        out = f"{self.scheme}://" if self.scheme else ""
        if self.username is not None or self.password is not None:
            out += self.username or ""
            if self.password is not None:
                out += f":{self.password}"
            out += "@"
        out += f"[{self.host}]" if ":" in self.host else self.host
        if self.port is not None:
            out += f":{self.port}"
        return out

    def redacted(self) -> str:
        """The destination with its password hidden, for logs and listings."""
        if self.password is None:
            return str(self)
        return str(Destination(self.host, self.scheme, self.username, "***", self.port))


def _split_host_port(rest: str, original: str) -> tuple[str, int | None]:
    if rest.startswith("["):
        end = rest.find("]")
        if end < 0:
            raise CodecError(f"destination {original!r}: unclosed '['")
        host, tail = rest[1:end], rest[end + 1 :]
        if not tail:
            return host, None
        if not tail.startswith(":"):
            raise CodecError(f"destination {original!r}: unexpected text after ']'")
        return host, _port(tail[1:], original)
    if rest.count(":") == 1:
        host, port = rest.split(":")
        return host, _port(port, original)
    return rest, None  # a bare IPv6 address has several colons and no port


def _port(text: str, original: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise CodecError(f"destination {original!r}: invalid port {text!r}")
    return int(text)


def format_credentials(key_hex: str, host: str, port: int) -> str:
    """``distant://:KEY@HOST:PORT``, with an IPv6 host bracketed."""
    return str(Destination(host, "distant", None, key_hex, port))


_FIND = re.compile(r"distant://[^\s\x00-\x1f\x7f]*")


def find_credentials(text: str, *, strict: bool = False) -> Destination | None:
    """The first ``distant://`` credentials in ``text`` with a 64-hex-digit key, if any.

    With ``strict``, the scheme must start the text or follow whitespace or a control
    character (upstream's strict finder); otherwise it may appear anywhere.
    """
    for m in _FIND.finditer(text):
        if (
            strict
            and m.start() > 0
            and not (text[m.start() - 1].isspace() or ord(text[m.start() - 1]) < 0x20)
        ):
            continue
        try:
            dest = Destination.parse(m.group(0))
        except CodecError:
            continue
        key = dest.password or ""
        if dest.port is not None and len(key) == 64 and _is_hex(key):
            return dest
    return None


def _is_hex(text: str) -> bool:
    try:
        bytes.fromhex(text)
    except ValueError:
        return False
    return True
