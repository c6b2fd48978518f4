"""Frame accounting and the replay backup (§5.3), and the arithmetic of synchronize (§5.4).

Each side counts the frames it sent and received on a logical connection and keeps the
items it sent, bounded in bytes, so that after a reconnect it can resend what the peer
never got. Heartbeats (empty items) are neither counted nor kept.

Unlike distant 0.21, the receive count here counts *decoded, non-empty* items, so that our
count and a peer's send count describe the same frames (upstream counts encrypted
heartbeats on receive, §15.1), and after a replay the count ends equal to the peer's (§15.2).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

__all__ = ["ReplayBuffer", "SyncState", "DEFAULT_BACKUP_BYTES"]

DEFAULT_BACKUP_BYTES = 256 * 1024 * 1024
"""Upstream's bound on the backup: 256 MiB, oldest items dropped first."""


@dataclass(frozen=True, slots=True)
class SyncState:
    """The triple each side sends during synchronize: ``[sent, received, available]``."""

    sent: int
    received: int
    available: int

    def to_list(self) -> list[int]:
        return [self.sent, self.received, self.available]


class ReplayBuffer:
    """Counters and the backup of one logical connection."""

    __slots__ = ("_bytes", "_frames", "max_bytes", "received", "sent")

    def __init__(self, max_bytes: int = DEFAULT_BACKUP_BYTES) -> None:
        self.max_bytes = max_bytes
        self.sent = 0
        self.received = 0
        self._frames: deque[bytes] = deque()
        self._bytes = 0

    @property
    def available(self) -> int:
        """How many of the most recent sent items can still be resent."""
        return len(self._frames)

    @property
    def backup_bytes(self) -> int:
        return self._bytes

    def record_sent(self, item: bytes) -> None:
        if not item:
            return
        self.sent += 1
        self._frames.append(item)
        self._bytes += len(item)
        while self._bytes > self.max_bytes and self._frames:
            self._bytes -= len(self._frames.popleft())

    def record_received(self) -> None:
        self.received += 1

    def state(self) -> SyncState:
        return SyncState(self.sent, self.received, self.available)

    def to_resend(self, peer: SyncState) -> list[bytes]:
        """The newest ``min(sent - peer.received, available)`` items, oldest first."""
        count = min(max(self.sent - peer.received, 0), self.available)
        if count == 0:
            return []
        frames = list(self._frames)
        return frames[len(frames) - count :]

    def to_expect(self, peer: SyncState) -> int:
        """How many replayed frames the peer will send us."""
        return min(max(peer.sent - self.received, 0), peer.available)

    def finish_sync(self, peer: SyncState) -> None:
        """After the replayed frames were counted: frames the peer could no longer replay
        are lost for good; skip the count past them so the next sync agrees."""
        self.received = max(self.received, peer.sent)

    def acknowledge(self, peer_received: int) -> None:
        """Drop items the peer has confirmed (everything up to ``peer_received``)."""
        excess = self.available - max(self.sent - peer_received, 0)
        for _ in range(max(excess, 0)):
            self._bytes -= len(self._frames.popleft())
