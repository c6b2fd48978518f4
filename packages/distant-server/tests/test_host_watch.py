"""``watch`` / ``unwatch`` on the host (§7.3, §7.5), through the real dispatcher and a real
loopback connection, on real inotify (and polling) notifications."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest

from distant_codec import Error, ErrorKind, Msg
from distant_codec import common as c
from distant_codec import requests as rq
from distant_codec import responses as rs
from distant_codec.common import ChangeKind
from distant_net import Mailbox, RequestTimeout
from distant_server import ApiContext
from distant_server.host.watch import WatchOps, WatchTable
from distant_server.listen import WatchSettings

from .harness import api_client, one

pytestmark = pytest.mark.anyio

CREATE, MODIFY, DELETE = ChangeKind.CREATE, ChangeKind.MODIFY, ChangeKind.DELETE
SETTLE = 0.3  # longer than the debounce: how long to wait for changes that must not come


@asynccontextmanager
async def watching(client: Any, path: Path | str, **fields: Any) -> AsyncIterator[Mailbox[Any]]:
    async with client.stream(Msg.single(rq.Watch(str(path), **fields))) as box:
        assert (await box.next(5)).payload.value == rs.Ok()
        yield box


async def changes_until(
    box: Mailbox[Any], done: Callable[[list[c.Change]], bool], timeout: float = 5
) -> list[c.Change]:
    """Changes received until ``done`` holds for them all."""
    got: list[c.Change] = []
    with anyio.fail_after(timeout):
        while not done(got):
            change = (await box.next()).payload.value
            assert isinstance(change, c.Change), change
            got.append(change)
    return got


async def quiet(box: Mailbox[Any], wait: float = SETTLE) -> list[c.Change]:
    """Changes that arrive within ``wait`` seconds."""
    got: list[c.Change] = []
    while True:
        try:
            got.append((await box.next(wait)).payload.value)
        except RequestTimeout:
            return got


def has(kind: ChangeKind, path: Path | str) -> Callable[[list[c.Change]], bool]:
    return lambda got: any(ch.kind == kind and ch.path == str(path) for ch in got)


def kinds_of(got: list[c.Change], path: Path | str) -> list[ChangeKind]:
    return [ch.kind for ch in got if ch.path == str(path)]


async def test_create_modify_delete(tmp_path: Path) -> None:
    target = tmp_path / "file.txt"
    async with api_client(WatchOps()) as client, watching(client, tmp_path) as box:
        target.write_text("one")
        got = await changes_until(box, has(CREATE, target))
        created = next(ch for ch in got if ch.kind == CREATE)
        assert abs(created.timestamp - time.time()) < 5  # Unix seconds
        assert created.details.timestamp is not None
        assert abs(created.details.timestamp - time.time()) < 5
        await quiet(box)

        with target.open("a") as f:
            f.write("two")
        got = await changes_until(box, has(MODIFY, target))
        modified = next(ch for ch in got if ch.kind == MODIFY)
        assert modified.details.timestamp == int(target.stat().st_mtime)
        await quiet(box)

        target.unlink()
        got = await changes_until(box, has(DELETE, target))
        deleted = next(ch for ch in got if ch.kind == DELETE)
        assert deleted.details == c.ChangeDetails()  # nothing to say about a deleted path
        assert CREATE not in kinds_of(got, target)


async def test_events_of_one_batch_come_in_a_sensible_order(tmp_path: Path) -> None:
    brief = tmp_path / "brief.txt"
    again = tmp_path / "again.txt"
    again.write_text("x")
    async with api_client(WatchOps()) as client, watching(client, tmp_path) as box:
        brief.write_text("x")  # created and deleted within one debounce window
        brief.unlink()
        got = await changes_until(box, has(DELETE, brief))
        assert kinds_of(got, brief) == [CREATE, DELETE]
        await quiet(box)
        again.unlink()  # deleted and created again
        again.write_text("y")
        got = await changes_until(box, has(CREATE, again))
        got += await quiet(box)
        assert kinds_of(got, again)[:2] == [DELETE, CREATE]


async def test_rename_is_delete_and_create(tmp_path: Path) -> None:
    old = tmp_path / "old.txt"
    new = tmp_path / "new.txt"
    old.write_text("x")
    async with api_client(WatchOps()) as client, watching(client, tmp_path) as box:
        old.rename(new)
        got = await changes_until(box, lambda g: has(DELETE, old)(g) and has(CREATE, new)(g))
        assert ChangeKind.RENAME not in [ch.kind for ch in got]


async def test_attribute_change_is_modify(tmp_path: Path) -> None:
    target = tmp_path / "file.txt"
    target.write_text("x")
    async with api_client(WatchOps()) as client, watching(client, tmp_path) as box:
        target.chmod(0o600)
        await changes_until(box, has(MODIFY, target))


async def test_non_recursive_sees_only_direct_entries(tmp_path: Path) -> None:
    sub = tmp_path / "sub"
    sub.mkdir()
    async with api_client(WatchOps()) as client, watching(client, tmp_path) as box:
        (sub / "deep.txt").write_text("x")
        (tmp_path / "top.txt").write_text("x")
        got = await changes_until(box, has(CREATE, tmp_path / "top.txt"))
        got += await quiet(box)
        assert not [ch for ch in got if ch.path.startswith(f"{sub}/")]


async def test_recursive_sees_the_whole_tree(tmp_path: Path) -> None:
    sub = tmp_path / "sub" / "deeper"
    sub.mkdir(parents=True)
    async with (
        api_client(WatchOps()) as client,
        watching(client, tmp_path, recursive=True) as box,
    ):
        (sub / "deep.txt").write_text("x")
        await changes_until(box, has(CREATE, sub / "deep.txt"))
        (sub / "deep.txt").unlink()
        await changes_until(box, has(DELETE, sub / "deep.txt"))


async def test_only_filter(tmp_path: Path) -> None:
    target = tmp_path / "file.txt"
    async with (
        api_client(WatchOps()) as client,
        watching(client, tmp_path, only=(DELETE,)) as box,
    ):
        target.write_text("x")
        assert await quiet(box) == []
        target.unlink()
        got = await changes_until(box, has(DELETE, target))
        got += await quiet(box)
        assert {ch.kind for ch in got} == {DELETE}


async def test_except_filter(tmp_path: Path) -> None:
    target = tmp_path / "file.txt"
    async with (
        api_client(WatchOps()) as client,
        watching(client, tmp_path, except_=(MODIFY, CREATE)) as box,
    ):
        target.write_text("x")
        with target.open("a") as f:
            f.write("y")
        assert await quiet(box) == []
        target.unlink()
        got = await changes_until(box, has(DELETE, target))
        assert {ch.kind for ch in got} == {DELETE}


async def test_only_and_except_combine(tmp_path: Path) -> None:
    target = tmp_path / "file.txt"
    async with (
        api_client(WatchOps()) as client,
        watching(client, tmp_path, only=(CREATE, DELETE), except_=(DELETE,)) as box,
    ):
        target.write_text("x")
        got = await changes_until(box, has(CREATE, target))
        target.unlink()
        got += await quiet(box)
        assert {ch.kind for ch in got} == {CREATE}


async def test_watching_a_file(tmp_path: Path) -> None:
    target = tmp_path / "file.txt"
    target.write_text("x")
    async with api_client(WatchOps()) as client, watching(client, target) as box:
        (tmp_path / "sibling.txt").write_text("x")
        with target.open("a") as f:
            f.write("y")
        got = await changes_until(box, has(MODIFY, target))
        got += await quiet(box)
        assert {ch.path for ch in got} == {str(target)}


async def test_paths_are_canonical(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    async with api_client(WatchOps()) as client:
        async with watching(client, link) as box:
            (real / "f.txt").write_text("x")
            await changes_until(box, has(CREATE, real / "f.txt"))
            # unwatch works with the path as given
            assert await one(client, rq.Unwatch(str(link))) == rs.Ok()
        async with watching(client, f"{tmp_path}/./real") as box:
            # ... and with its canonical form
            assert await one(client, rq.Unwatch(str(real))) == rs.Ok()


async def test_unwatch_stops_the_stream(tmp_path: Path) -> None:
    async with api_client(WatchOps()) as client:
        async with watching(client, tmp_path) as box:
            (tmp_path / "a.txt").write_text("x")
            await changes_until(box, has(CREATE, tmp_path / "a.txt"))
            await quiet(box)
            assert await one(client, rq.Unwatch(str(tmp_path))) == rs.Ok()
            (tmp_path / "b.txt").write_text("x")
            assert await quiet(box) == []
        again = await one(client, rq.Unwatch(str(tmp_path)))
        assert again == Error(ErrorKind.NOT_FOUND, f"{tmp_path} is not being watched")


async def test_unwatch_stops_every_watch_of_the_path(tmp_path: Path) -> None:
    async with (
        api_client(WatchOps()) as client,
        watching(client, tmp_path) as first,
        watching(client, tmp_path) as second,
    ):
        (tmp_path / "a.txt").write_text("x")
        await changes_until(first, has(CREATE, tmp_path / "a.txt"))
        await changes_until(second, has(CREATE, tmp_path / "a.txt"))
        assert await one(client, rq.Unwatch(str(tmp_path))) == rs.Ok()
        await quiet(first)
        await quiet(second)
        (tmp_path / "b.txt").write_text("x")
        assert await quiet(first) == []
        assert await quiet(second) == []


async def test_unwatch_of_a_path_not_watched_is_not_found(tmp_path: Path) -> None:
    async with api_client(WatchOps()) as client:
        reply = await one(client, rq.Unwatch(str(tmp_path)))
        assert reply == Error(ErrorKind.NOT_FOUND, f"{tmp_path} is not being watched")


async def test_watching_a_missing_path_is_not_found(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    async with api_client(WatchOps()) as client:
        reply = await one(client, rq.Watch(str(missing)))
        assert reply == Error(ErrorKind.NOT_FOUND, f"No such file or directory: {missing}")


async def test_polling(tmp_path: Path) -> None:
    ops = WatchOps(polling=True, poll_interval=0.05)
    async with api_client(ops) as client, watching(client, tmp_path) as box:
        (tmp_path / "polled.txt").write_text("x")
        await changes_until(box, has(CREATE, tmp_path / "polled.txt"))


def test_settings_map_to_watchfiles_parameters() -> None:
    ops = WatchOps(WatchSettings())  # what the CLI passes
    assert (ops._debounce_ms, ops._step_ms, ops._poll_delay_ms) == (500, 125, 30_000)
    ops = WatchOps(WatchSettings(poll_interval=2, debounce_tick_rate=0.01), polling=True)
    assert ops.watch_settings.polling
    assert (ops._debounce_ms, ops._step_ms, ops._poll_delay_ms) == (500, 10, 2000)
    ops = WatchOps()
    assert (ops._debounce_ms, ops._step_ms) == (50, 12)
    with pytest.raises(TypeError):
        WatchOps(no_such_setting=1)


class Spy(WatchOps):
    """Remembers each connection's watch table."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[WatchTable] = []

    async def watch(self, ctx: ApiContext, req: rq.Watch) -> rs.Ok:
        reply = await super().watch(ctx, req)
        self.tables.append(ctx.connection.resource(WatchTable))
        return reply


async def test_closing_the_connection_stops_its_watches(tmp_path: Path) -> None:
    spy = Spy()
    async with api_client(spy) as client, watching(client, tmp_path, recursive=True):
        (watch,) = spy.tables[0]._watches
        assert not watch.stop.is_set()
    with anyio.fail_after(5):
        while not (watch.stop.is_set() and watch.done.is_set()):
            await anyio.sleep(0.02)
    assert spy.tables[0]._watches == []


async def test_many_watches_do_not_starve_other_threads(tmp_path: Path) -> None:
    dirs = [tmp_path / f"d{i}" for i in range(50)]  # more than anyio's 40 default threads
    for d in dirs:
        d.mkdir()
    async with api_client(WatchOps()) as client:
        for d in dirs:
            assert await one(client, rq.Watch(str(d))) == rs.Ok()
        await anyio.sleep(0.2)
        with anyio.fail_after(2):
            await anyio.to_thread.run_sync(os.getpid)
        for d in dirs:
            assert await one(client, rq.Unwatch(str(d))) == rs.Ok()
