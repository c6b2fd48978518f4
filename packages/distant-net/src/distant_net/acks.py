"""Acknowledgements between our own peers: a bounded backup with no silent loss.

distant 0.21 keeps every sent item in the backup until 256 MiB have piled up, then drops
the oldest; if a link is cut while more than that is unreceived, data is lost, and a busy
connection holds 256 MiB it does not need. Between two peers of ours (both ends negotiated
the counter-nonce cipher, which no Rust peer offers or picks) each side instead tells the
other how many items it has received, and the sender forgets those. The backup then holds
only what is in flight, and a sender that gets too far ahead waits (backpressure) instead
of dropping anything.

An acknowledgement is a *control item*: ``0xc1 0x01`` followed by the u64 big-endian
receive count. ``0xc1`` never starts valid msgpack, so no data item can look like one.
Control items are neither counted nor kept for replay.
"""

from __future__ import annotations

import struct

__all__ = [
    "CONTROL_PREFIX",
    "ACK_EVERY_BYTES",
    "ACK_EVERY_ITEMS",
    "ACK_INTERVAL",
    "DEFAULT_MAX_UNACKED",
    "encode_ack",
    "is_control",
    "decode_ack",
]

CONTROL_PREFIX = 0xC1
_ACK = struct.Struct(">BBQ")
_ACK_KIND = 0x01

ACK_EVERY_BYTES = 1024 * 1024
"""Acknowledge at least every this many received bytes..."""
ACK_EVERY_ITEMS = 64
"""...or items..."""
ACK_INTERVAL = 0.5
"""...and at least this often (seconds) while anything is unacknowledged."""
DEFAULT_MAX_UNACKED = 16 * 1024 * 1024
"""A sender with this many unacknowledged bytes waits for an acknowledgement."""


def encode_ack(received: int) -> bytes:
    return _ACK.pack(CONTROL_PREFIX, _ACK_KIND, received)


def is_control(item: bytes) -> bool:
    return bool(item) and item[0] == CONTROL_PREFIX


def decode_ack(item: bytes) -> int | None:
    """The receive count an acknowledgement carries; None for other control items
    (ignored, so that new kinds can be added without breaking older peers)."""
    if len(item) == _ACK.size and item[1] == _ACK_KIND:
        return int(_ACK.unpack(item)[2])
    return None
