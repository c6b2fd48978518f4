"""``launch`` and ``connect`` logic against a recording stand-in for the manager client:
flags become options, no scheme means ssh, a non-global host is replaced by the user's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from distant_cli.commands import manage
from distant_cli.session import Globals


class FakeClient:
    def __init__(self, launched: str = "distant://:KEY@0.0.0.0:4000") -> None:
        self.launched = launched
        self.calls: list[tuple[str, str, dict[str, str]]] = []
        self.connections: dict[int, str] = {}

    def launch(self, destination: str, options: dict[str, str], auth: Any) -> str:
        self.calls.append(("launch", destination, dict(options)))
        return self.launched

    def connect_to(self, destination: str, options: dict[str, str], auth: Any) -> int:
        self.calls.append(("connect", destination, dict(options)))
        return 77

    def list(self) -> dict[int, str]:
        return dict(self.connections)

    def close(self) -> None:
        pass


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeClient:
    client = FakeClient()
    monkeypatch.setattr(manage, "connect_manager", lambda g, **kw: client)
    return client


def globals_(tmp_path: Path) -> Globals:
    return Globals(cache=str(tmp_path / "cache.toml"), config=str(_empty(tmp_path)))


def _empty(tmp_path: Path) -> Path:
    path = tmp_path / "empty.toml"
    path.write_text("")
    return path


def test_launch_flags_become_options(fake: FakeClient, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    g = globals_(tmp_path)
    code = manage.launch(g, "example.com", 'a="1"', distant_bin="/opt/distant",
                         bind_server="any", distant_args="--log-level trace")  # fmt: skip
    assert code == 0
    kind, destination, options = fake.calls[0]
    assert (kind, destination) == ("launch", "ssh://example.com")
    assert options == {"a": "1", "distant.bin": "/opt/distant", "distant.bind_server": "any",
                       "distant.args": "--log-level trace"}  # fmt: skip
    # 0.0.0.0 is not global: the user's host is used instead.
    assert fake.calls[1] == ("connect", "distant://:KEY@example.com:4000", {})
    assert capsys.readouterr().out == "77\n"
    assert (tmp_path / "cache.toml").read_text() == 'selected = "77"\n'


def test_launch_keeps_a_global_host(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    client = FakeClient("distant://:KEY@8.8.8.8:4000")
    monkeypatch.setattr(manage, "connect_manager", lambda g, **kw: client)
    manage.launch(globals_(tmp_path), "ssh://user@example.com:2222", None)
    assert client.calls[0][1] == "ssh://user@example.com:2222"
    assert client.calls[1][1] == "distant://:KEY@8.8.8.8:4000"


def test_launch_options_from_config(fake: FakeClient, tmp_path: Path) -> None:
    cfg = tmp_path / "cfg.toml"
    cfg.write_text('[client.launch]\noptions = "x=1"\n[client.launch.distant]\nbin = "/cfg/bin"\n')
    g = Globals(cache=str(tmp_path / "c.toml"), config=str(cfg))
    manage.launch(g, "manager://localhost", None, distant_bin=None)
    assert fake.calls[0][2] == {"x": "1", "distant.bin": "/cfg/bin"}
    fake.calls.clear()
    manage.launch(g, "manager://localhost", "y=2", distant_bin="/flag/bin")
    assert fake.calls[0][2] == {"y": "2", "distant.bin": "/flag/bin"}


@pytest.mark.parametrize(
    ("known", "wanted", "same"),
    [
        ("distant://localhost:1", "DISTANT://LOCALHOST:1", True),
        ("distant://localhost:1", "localhost:1", True),
        ("distant://localhost:1", "distant://:KEY@localhost:1", True),
        ("distant://localhost:1", "distant://localhost:2", False),
        ("ssh://localhost:1", "localhost:1", False),
        ("ssh://me@host", "ssh://you@host", False),
    ],
)
def test_same_destination(known: str, wanted: str, same: bool) -> None:
    assert manage.same_destination(known, wanted, "distant") is same


def test_connect_reuses(fake: FakeClient, tmp_path: Path,
                        capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    fake.connections = {5: "distant://host:1"}
    g = globals_(tmp_path)
    g.format = "json"
    import io
    import sys

    monkey_stdin = io.TextIOWrapper(io.BytesIO(b""))
    old = sys.stdin
    sys.stdin = monkey_stdin
    try:
        manage.connect(g, "Distant://HOST:1", None)
    finally:
        sys.stdin = old
    assert capsys.readouterr().out == '{"type":"connected","id":5,"reused":true}\n'
    assert fake.calls == []
