"""The one exception type that every decoder in this package raises on bad input."""

from __future__ import annotations

__all__ = ["CodecError", "FrameTooLarge"]


class CodecError(ValueError):
    """Bad input: a truncated or oversized frame, undecodable msgpack or JSON, an unknown
    ``type``, an extra or missing field, a field of the wrong type, or a bad tag.

    Decoders in distant-codec raise this and nothing else, whatever bytes they are fed; the
    message names the offending field path where there is one. It is always the remote
    peer's (or the input's) fault, never a bug on our side.
    """


class FrameTooLarge(CodecError):
    """A frame header announced an item longer than the configured maximum.

    Raised from the 8-byte header alone, before anything is allocated for the item.
    """

    def __init__(self, length: int, maximum: int) -> None:
        super().__init__(f"frame item of {length} bytes exceeds the maximum of {maximum} bytes")
        self.length = length
        self.maximum = maximum
