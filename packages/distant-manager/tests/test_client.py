"""The async ManagerClient against a real manager, on both anyio backends."""

from __future__ import annotations

from pathlib import Path

import pytest

from distant_codec import requests as rq
from distant_codec import responses as rs
from distant_manager import ManagerClient, ManagerError

from .harness import RunningManager, running_manager


@pytest.fixture(scope="module")
def manager(tmp_path_factory: pytest.TempPathFactory):
    with running_manager(tmp_path_factory.mktemp("async-manager")) as m:
        yield m


@pytest.mark.anyio
async def test_async_client_round_trip(manager: RunningManager) -> None:
    async with ManagerClient.connect(manager.path) as mc:
        assert await mc.version() == "0.21.0"
        destination = await mc.launch("manager://localhost")
        cid = await mc.connect_to(destination)
        try:
            assert cid in await mc.list()
            async with mc.open_channel(cid) as channel:
                assert await channel.request(rq.Exists("/")) == rs.Exists(True)
                reply = await channel.request(rq.FileRead("/no/such/file"))
                assert isinstance(reply, rs.Error) and reply.kind == "not_found"
        finally:
            await mc.kill(cid)
        with pytest.raises(ManagerError, match="no connection"):
            await mc.info(cid)


def test_harness_paths_are_private(manager: RunningManager) -> None:
    assert Path(manager.path).stat().st_mode & 0o777 == 0o600
