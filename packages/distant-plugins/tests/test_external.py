"""ExternalPlugin against real plugin executables (``external_plugins/``): setup, the auth
relay, every error kind, the setup timeout, the binary-frame data phase and a plugin that
dies mid-session. Every test checks that no plugin process is left running."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import anyio
import pytest

from distant_codec import (
    AuthChallenge,
    AuthChallengeResponse,
    AuthError,
    AuthInfo,
    AuthInitialization,
    AuthInitializationResponse,
    AuthStartMethod,
    AuthVerification,
    AuthVerificationResponse,
    Destination,
    ErrorKind,
    UntypedRequest,
    UntypedResponse,
    packb,
    unpackb,
)
from distant_manager import PluginError, ServerLink
from distant_net import ConnectionClosed
from distant_plugins.external import ExternalPlugin, ExternalPluginError, plugin_argv

PLUGINS = Path(__file__).parent / "external_plugins"
SCRIPT = str(PLUGINS / "testplugin.py")
SHELL = str(PLUGINS / "connect_only.sh")

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "trio"


class Answers:
    """An auth handler that answers challenges from a list and records them."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.challenges: list[AuthChallenge] = []

    async def on_initialization(self, msg: AuthInitialization) -> AuthInitializationResponse:
        return AuthInitializationResponse(msg.methods)

    async def on_challenge(self, msg: AuthChallenge) -> AuthChallengeResponse:
        self.challenges.append(msg)
        return AuthChallengeResponse(tuple(self.answers.pop(0)))

    async def on_verification(self, msg: AuthVerification) -> AuthVerificationResponse:
        return AuthVerificationResponse(False)

    async def on_info(self, msg: AuthInfo) -> None:
        pass

    async def on_error(self, msg: AuthError) -> None:
        pass

    async def on_start_method(self, msg: AuthStartMethod) -> None:
        pass

    async def on_finished(self) -> None:
        pass


def plugin(**kwargs: float) -> ExternalPlugin:
    return ExternalPlugin("ext", SCRIPT, ["ext", "ext2"], **kwargs)


async def exists(link: ServerLink, path: str, rid: str = "1") -> bool:
    await link.send(UntypedRequest(rid, packb({"type": "exists", "path": path})).to_bytes())
    async for item in link:
        response = UntypedResponse.from_bytes(item)
        assert response.origin_id == rid
        payload = unpackb(response.payload)
        assert payload["type"] == "exists", payload
        return bool(payload["value"])
    raise AssertionError(f"the link closed: {link.close_reason}")


def reason_of(link: ServerLink) -> str | None:
    return link.close_reason  # (a call: mypy would keep a narrowed property)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# -- connect and the data phase ---------------------------------------------------------------


@pytest.mark.parametrize("anyio_backend", ["trio", "asyncio"])
async def test_connect_serves_the_distant_api(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.INFO, logger="distant_plugins.external")
    ext = plugin()
    (tmp_path / "here").write_text("x")
    async with ext.connect(Destination.parse("ext://serve"), {}, Answers()) as link:
        assert ext.running == 1
        assert await exists(link, str(tmp_path / "here"))
        assert not await exists(link, str(tmp_path / "missing"), rid="2")
        assert not link.closed
    assert reason_of(link) == "closed"
    assert ext.running == 0
    logged = [r.getMessage() for r in caplog.records if r.name == "distant_plugins.external"]
    assert any("testplugin connect serve starting" in m for m in logged), logged


async def test_the_argv_carries_destination_and_options() -> None:
    destination = Destination.parse("ext://alice:hunter2@args:22")
    argv = plugin_argv(SCRIPT, "connect", destination, {"a": "1", "b.c": "x=y"})
    assert argv == [SCRIPT, "connect", "ext://alice:hunter2@args:22", "--a=1", "--b.c=x=y"]
    with pytest.raises(ExternalPluginError) as info:
        async with plugin().connect(destination, {"a": "1", "b.c": "x=y"}, Answers()):
            pass
    assert info.value.kind == ErrorKind.OTHER
    reported = json.loads(str(info.value).split("other error: ", 1)[1])
    assert reported == argv[1:]  # the password reaches the plugin unredacted


async def test_dying_mid_session_closes_the_link() -> None:
    ext = plugin()
    async with ext.connect(Destination.parse("ext://die"), {}, Answers()) as link:
        await link.send(UntypedRequest("1", packb({"type": "version"})).to_bytes())
        with anyio.fail_after(10):
            received = [item async for item in link]
        assert received == []
        assert link.closed
        assert link.close_reason == "plugin 'ext' exited with code 3"
        with pytest.raises(ConnectionClosed, match="exited with code 3"):
            await link.send(UntypedRequest("2", packb({"type": "version"})).to_bytes())
    assert ext.running == 0


async def test_an_oversized_frame_closes_the_link_and_stops_the_plugin() -> None:
    ext = plugin()
    async with ext.connect(Destination.parse("ext://garbage"), {}, Answers()) as link:
        with anyio.fail_after(10):
            assert [item async for item in link] == []
        assert link.close_reason is not None
        assert "sent a bad frame" in link.close_reason
        assert ext.running == 1  # released when the context exits
    assert ext.running == 0


async def test_aclose_stops_a_running_connection() -> None:
    ext = plugin()
    async with ext.connect(Destination.parse("ext://serve"), {}, Answers()) as link:
        await ext.aclose()
        with anyio.fail_after(10):
            assert [item async for item in link] == []
        assert link.close_reason == "plugin 'ext' was killed by signal SIGTERM"
    assert ext.running == 0


# -- auth relay ---------------------------------------------------------------------------------


async def test_auth_round_trip() -> None:
    auth = Answers(["open sesame"])
    async with plugin().connect(Destination.parse("ext://auth"), {}, auth) as link:
        assert await exists(link, "/")
    (challenge,) = auth.challenges
    (question,) = challenge.questions
    assert (question.text, question.label, question.options) == (
        "Password:",
        "pw",
        {"echo": "false"},
    )
    assert challenge.options == {"instructions": "test"}


async def test_a_wrong_answer_is_permission_denied() -> None:
    with pytest.raises(
        ExternalPluginError, match="permission denied: Authentication failed"
    ) as info:
        async with plugin().connect(Destination.parse("ext://auth"), {}, Answers(["nope"])):
            pass
    assert info.value.kind == ErrorKind.PERMISSION_DENIED


async def test_several_auth_rounds() -> None:
    auth = Answers(["one"], ["two"])
    async with plugin().connect(Destination.parse("ext://auth2"), {}, auth) as link:
        assert await exists(link, "/")
    assert [c.questions[0].text for c in auth.challenges] == ["First:", "Second:"]
    assert [c.questions[0].label for c in auth.challenges] == ["", ""]  # label is optional


# -- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [
        ("not_found", "not found", ErrorKind.NOT_FOUND),
        ("permission_denied", "permission denied", ErrorKind.PERMISSION_DENIED),
        ("connection_refused", "connection refused", ErrorKind.CONNECTION_REFUSED),
        ("unsupported", "unsupported", ErrorKind.UNSUPPORTED),
        ("other", "other error", ErrorKind.OTHER),
        ("made_up", "other error", ErrorKind.OTHER),
    ],
)
async def test_each_error_kind(kind: str, text: str, expected: ErrorKind) -> None:
    ext = plugin()
    with pytest.raises(PluginError) as info:
        async with ext.connect(Destination.parse(f"ext://error-{kind}"), {}, Answers()):
            pass
    assert str(info.value) == f"plugin 'ext': {text}: failed as {kind}"
    assert isinstance(info.value, ExternalPluginError) and info.value.kind == expected
    with pytest.raises(ExternalPluginError, match=f"plugin 'ext': {text}: failed as {kind}"):
        await ext.launch(Destination.parse(f"ext://error-{kind}"), {}, Answers())
    assert ext.running == 0


async def test_a_shell_plugin_reports_its_errors() -> None:
    ext = ExternalPlugin("sh", SHELL)
    assert ext.schemes == ("sh",)
    with pytest.raises(ExternalPluginError, match="plugin 'sh': unsupported: launch not supported"):
        await ext.launch(Destination.parse("sh://x"), {}, Answers())
    with pytest.raises(ExternalPluginError, match="connection refused: nothing listens"):
        async with ext.connect(Destination.parse("sh://x"), {}, Answers()):
            pass


async def test_exiting_before_ready_reports_code_and_stderr() -> None:
    with pytest.raises(ExternalPluginError) as info:
        async with plugin().connect(Destination.parse("ext://exit"), {}, Answers()):
            pass
    text = str(info.value)
    assert "plugin 'ext' exited with code 2 before it was ready" in text
    assert "boom: cannot reach the backend" in text


async def test_a_line_that_is_not_json_is_an_error() -> None:
    ext = plugin()
    with anyio.fail_after(10), pytest.raises(ExternalPluginError, match="invalid setup line"):
        async with ext.connect(Destination.parse("ext://notjson"), {}, Answers()):
            pass
    assert ext.running == 0


async def test_ready_during_launch_and_destination_during_connect_are_errors() -> None:
    ext = plugin()
    with pytest.raises(ExternalPluginError, match="sent 'ready' during a launch"):
        await ext.launch(Destination.parse("ext://ready"), {}, Answers())
    with pytest.raises(ExternalPluginError, match="sent a destination during a connect"):
        async with ext.connect(Destination.parse("ext://launch"), {}, Answers()):
            pass


async def test_a_missing_executable_is_not_found(tmp_path: Path) -> None:
    ext = ExternalPlugin("gone", str(tmp_path / "nothing"))
    with pytest.raises(ExternalPluginError, match="cannot run") as info:
        await ext.launch(Destination.parse("gone://x"), {}, Answers())
    assert info.value.kind == ErrorKind.NOT_FOUND


async def test_a_hanging_plugin_is_killed_after_the_setup_timeout(tmp_path: Path) -> None:
    ext = plugin(setup_timeout=0.5)
    pidfile = tmp_path / "pid"
    started = time.monotonic()
    with pytest.raises(ExternalPluginError, match=r"setup timed out after 0\.5 s"):
        async with ext.connect(
            Destination.parse("ext://hang"), {"pidfile": str(pidfile)}, Answers()
        ):
            pass
    assert time.monotonic() - started < 10  # SIGTERM works on the sleeping script
    pid = int(pidfile.read_text())
    assert not alive(pid)  # killed and reaped (no zombie either)
    assert ext.running == 0
    with pytest.raises(ExternalPluginError, match="timed out"):
        await ext.launch(Destination.parse("ext://hang"), {"pidfile": str(pidfile)}, Answers())
    assert not alive(int(pidfile.read_text()))


# -- launch ------------------------------------------------------------------------------------


async def test_launch_returns_the_destination() -> None:
    ext = plugin()
    launched = await ext.launch(Destination.parse("ext://ok"), {"password": "s3cret"}, Answers())
    assert launched == Destination("serve", "ext", "u", "s3cret")
    assert ext.running == 0
