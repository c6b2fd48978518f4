"""Server shutdown policies (§8.1): ``never``, ``after=N`` and ``lonely=N``."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Shutdown"]


@dataclass(frozen=True, slots=True)
class Shutdown:
    """``kind`` is ``never``, ``after`` (N seconds after start) or ``lonely`` (N seconds
    with no connection; the timer stops when one arrives and restarts when the last goes)."""

    kind: str = "never"
    seconds: float = 0.0

    @classmethod
    def never(cls) -> Shutdown:
        return cls()

    @classmethod
    def after(cls, seconds: float) -> Shutdown:
        return cls("after", seconds)

    @classmethod
    def lonely(cls, seconds: float) -> Shutdown:
        return cls("lonely", seconds)

    @classmethod
    def parse(cls, text: str) -> Shutdown:
        """The CLI form: ``never``, ``after=N`` or ``lonely=N`` (N in seconds)."""
        text = text.strip().lower()
        if text == "never":
            return cls.never()
        m = re.fullmatch(r"(after|lonely)\s*=\s*(\d+(?:\.\d+)?)", text)
        if not m:
            raise ValueError(f"invalid shutdown {text!r}: expected never, after=N or lonely=N")
        return cls(m.group(1), float(m.group(2)))

    def __str__(self) -> str:
        return "never" if self.kind == "never" else f"{self.kind}={self.seconds:g}"
