"""Frame accounting and the synchronize arithmetic (§5.3-5.4)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from distant_net import ReplayBuffer, SyncState


def test_heartbeats_are_not_counted_or_kept() -> None:
    replay = ReplayBuffer()
    replay.record_sent(b"")
    replay.record_sent(b"x")
    assert (replay.sent, replay.available, replay.backup_bytes) == (1, 1, 1)


def test_backup_is_bounded_in_bytes_oldest_first() -> None:
    replay = ReplayBuffer(max_bytes=10)
    for item in (b"aaaa", b"bbbb", b"cccc"):
        replay.record_sent(item)
    assert replay.sent == 3
    assert replay.available == 2
    assert replay.to_resend(SyncState(0, 0, 0)) == [b"bbbb", b"cccc"]


def test_resend_only_what_the_peer_missed() -> None:
    replay = ReplayBuffer()
    for i in range(5):
        replay.record_sent(bytes([i + 1]))
    assert replay.to_resend(SyncState(sent=0, received=3, available=0)) == [b"\x04", b"\x05"]
    assert replay.to_resend(SyncState(sent=0, received=5, available=0)) == []
    assert replay.to_resend(SyncState(sent=0, received=9, available=0)) == []


def test_expect_and_finish() -> None:
    replay = ReplayBuffer()
    replay.received = 4
    peer = SyncState(sent=10, received=0, available=3)
    assert replay.to_expect(peer) == 3  # only 3 of the 6 missing are still available
    for _ in range(3):
        replay.record_received()
    replay.finish_sync(peer)
    assert replay.received == 10  # the 3 lost for good are skipped, and no more


def test_acknowledge_frees_confirmed_items() -> None:
    replay = ReplayBuffer()
    for i in range(4):
        replay.record_sent(bytes([i + 1]))
    replay.acknowledge(3)
    assert replay.available == 1
    assert replay.to_resend(SyncState(0, 3, 0)) == [b"\x04"]


@given(
    sent=st.lists(st.binary(min_size=1, max_size=5), max_size=30),
    delivered=st.integers(0, 30),
)
def test_sender_and_receiver_agree_after_a_cut(sent: list[bytes], delivered: int) -> None:
    """Whatever prefix got through, resending makes the receiver see every item once."""
    delivered = min(delivered, len(sent))
    sender, receiver = ReplayBuffer(), ReplayBuffer()
    for item in sent:
        sender.record_sent(item)
    got = sent[:delivered]
    for _ in got:
        receiver.record_received()
    resend = sender.to_resend(receiver.state())
    assert receiver.to_expect(sender.state()) == len(resend)
    got += resend
    assert got == sent
