"""The watch's event mapping and debounce batches (``distant_plugins.ssh.api_watch``),
which make inotifywait's reports look like the host's; the end-to-end behaviour over a
real sshd is in ``test_api.py``."""

from __future__ import annotations

from distant_codec import ChangeKind
from distant_plugins.ssh.api_watch import ChangeBatch, inotify_events, is_temporary, parse_event

ALL = frozenset(ChangeKind)


def test_inotify_events_map_to_the_hosts_three_kinds() -> None:
    assert parse_event(b"CREATE /d/a") == ([ChangeKind.CREATE], "/d/a")
    assert parse_event(b"MOVED_TO,ISDIR /d/sub") == ([ChangeKind.CREATE], "/d/sub")
    assert parse_event(b"CLOSE_WRITE,CLOSE /d/a b") == ([ChangeKind.MODIFY], "/d/a b")
    assert parse_event(b"ATTRIB,ISDIR /d/") == ([ChangeKind.MODIFY], "/d")
    assert parse_event(b"MOVED_FROM /d/a") == ([ChangeKind.DELETE], "/d/a")
    assert parse_event(b"DELETE_SELF /d/") == ([ChangeKind.DELETE], "/d")
    assert parse_event(b"ACCESS /d/a") == ([], "/d/a")
    assert parse_event(b"OPEN,CLOSE_NOWRITE,CLOSE /d/a") == ([], "/d/a")
    assert parse_event(b"Setting up watches.") is not None  # no kinds: harmless
    assert parse_event(b"garbage") is None
    assert parse_event(b"MODIFY /") == ([ChangeKind.MODIFY], "/")


def test_only_the_needed_inotify_events_are_asked_for() -> None:
    assert inotify_events(frozenset({ChangeKind.CREATE})) == ["create", "moved_to"]
    assert "attrib" in inotify_events(frozenset({ChangeKind.MODIFY}))
    assert inotify_events(frozenset({ChangeKind.ACCESS})) == ["delete_self"]  # never reported


def test_atomic_write_temporaries_are_recognised() -> None:
    assert is_temporary("/d/.new.txt.distant-435608b9de3734cd")  # this Api's
    assert is_temporary("/d/.f.distant-9079784b")  # the host's
    assert not is_temporary("/d/.f.distant-xyz")
    assert not is_temporary("/d/new.txt")
    assert not is_temporary("/.distant-1234abcd/f")


def test_a_batch_has_one_change_per_path_and_kind_in_the_hosts_order() -> None:
    batch = ChangeBatch(ALL)
    temp = "/d/.f.distant-0123456789abcdef"
    for kind, path in [
        (ChangeKind.CREATE, temp),
        (ChangeKind.MODIFY, temp),
        (ChangeKind.DELETE, temp),
        (ChangeKind.CREATE, "/d/f"),
        (ChangeKind.MODIFY, "/d/b"),
        (ChangeKind.MODIFY, "/d/b"),
        (ChangeKind.DELETE, "/d/a"),
        (ChangeKind.CREATE, "/d/a"),  # deleted, then there again
        (ChangeKind.MODIFY, "/d/a"),
        (ChangeKind.CREATE, "/d/c"),
        (ChangeKind.DELETE, "/d/c"),  # came and went
    ]:
        batch.add(kind, path)
    assert [(x.kind, x.path) for x in batch.take(7)] == [
        (ChangeKind.DELETE, "/d/a"),
        (ChangeKind.CREATE, "/d/a"),
        (ChangeKind.MODIFY, "/d/a"),
        (ChangeKind.MODIFY, "/d/b"),
        (ChangeKind.CREATE, "/d/c"),
        (ChangeKind.DELETE, "/d/c"),
        (ChangeKind.CREATE, "/d/f"),
    ]
    assert not batch and batch.take(8) == []


def test_a_batch_keeps_only_the_allowed_kinds() -> None:
    batch = ChangeBatch(frozenset({ChangeKind.CREATE, ChangeKind.DELETE}))
    batch.add(ChangeKind.CREATE, "/d/f")
    batch.add(ChangeKind.MODIFY, "/d/f")
    batch.add(ChangeKind.DELETE, "/d/f")
    changes = batch.take(5)
    assert [(x.kind, x.timestamp) for x in changes] == [
        (ChangeKind.CREATE, 5),
        (ChangeKind.DELETE, 5),
    ]
