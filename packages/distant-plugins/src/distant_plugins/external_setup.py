"""The setup phase of an external plugin (§11, plugin binary specification).

The plugin writes one JSON object per line on stdout (blank lines are skipped):
``auth_challenge`` (relayed to the user; the answer goes back on stdin as
``{"auth_response": {"answers": [...]}}``), then ``{"ready": true}`` for a connect or
``{"destination": "..."}`` for a launch, or ``{"error": {"kind", "description"}}``.

**Timeout.** Each wait for the plugin's next setup message is limited to the setup timeout
(120 s by default); the time the user takes to answer a challenge does not count. So a slow
plugin may keep its setup going by asking questions, as the specification's troubleshooting
notes suggest, but a silent one is stopped.
"""

from __future__ import annotations

import logging

import anyio
import anyio.abc

from distant_codec import (
    AuthChallenge,
    CodecError,
    ErrorKind,
    PluginAuthChallenge,
    PluginAuthResponse,
    PluginDestination,
    PluginReady,
    Question,
    parse_plugin_message,
    plugin_message_to_json,
)
from distant_codec import PluginError as PluginErrorMessage
from distant_manager import PluginError
from distant_net import AsyncAuthHandler

from .external_process import (
    LOGGER_NAME,
    SetupLineTooLong,
    StderrPump,
    StdoutLines,
    describe_exit,
)

__all__ = ["ExternalPluginError", "SetupResult", "run_setup", "EXIT_WAIT"]

log = logging.getLogger(LOGGER_NAME)

EXIT_WAIT = 5.0
"""Seconds to wait for a plugin that closed its stdout to exit (for its exit code)."""

_KIND_TEXT = {
    ErrorKind.NOT_FOUND: "not found",
    ErrorKind.PERMISSION_DENIED: "permission denied",
    ErrorKind.CONNECTION_REFUSED: "connection refused",
    ErrorKind.UNSUPPORTED: "unsupported",
}

SetupResult = PluginReady | PluginDestination


class ExternalPluginError(PluginError):
    """A plugin failed; ``kind`` is the io kind it reported (``other`` for anything the
    manager concluded itself: a timeout, an early exit, a malformed line)."""

    def __init__(self, message: str, kind: ErrorKind = ErrorKind.OTHER) -> None:
        super().__init__(message)
        self.kind = kind


def reported_error(name: str, msg: PluginErrorMessage) -> ExternalPluginError:
    """The error a plugin reported, its kind named in the text."""
    kind = msg.error_kind
    text = _KIND_TEXT.get(kind, "other error")
    return ExternalPluginError(f"plugin {name!r}: {text}: {msg.description}", kind)


async def run_setup(
    name: str,
    process: anyio.abc.Process,
    lines: StdoutLines,
    stderr: StderrPump,
    auth: AsyncAuthHandler,
    *,
    launch: bool,
    timeout: float,
) -> SetupResult:
    """Run the dialogue until ``ready`` (connect) or ``destination`` (launch).

    Raises :class:`ExternalPluginError` for everything that goes wrong; the caller stops
    the process.
    """
    while True:
        try:
            with anyio.fail_after(timeout):
                line = await _next_line(lines)
        except TimeoutError:
            raise ExternalPluginError(
                f"plugin {name!r}: setup timed out after {timeout:g} s (the plugin was stopped)"
            ) from None
        except SetupLineTooLong as exc:
            raise ExternalPluginError(f"plugin {name!r}: {exc}") from None
        if line is None:
            raise await _early_exit(name, process, stderr)
        try:
            msg = parse_plugin_message(line)
        except CodecError as exc:
            shown = line[:200].decode("utf-8", "replace")
            raise ExternalPluginError(
                f"plugin {name!r}: invalid setup line {shown!r}: {exc} (debug output belongs "
                "on stderr)"
            ) from None
        log.debug("plugin %r setup: %r", name, msg)
        if isinstance(msg, PluginErrorMessage):
            raise reported_error(name, msg)
        if isinstance(msg, PluginAuthChallenge):
            await _relay_challenge(name, process, msg, auth)
        elif isinstance(msg, PluginReady):
            if launch:
                raise ExternalPluginError(f"plugin {name!r}: sent 'ready' during a launch")
            if not msg.ready:
                raise ExternalPluginError(f"plugin {name!r}: reported it is not ready")
            return msg
        elif isinstance(msg, PluginDestination):
            if not launch:
                raise ExternalPluginError(f"plugin {name!r}: sent a destination during a connect")
            return msg
        else:
            raise ExternalPluginError(f"plugin {name!r}: unexpected setup message {msg!r}")


async def _next_line(lines: StdoutLines) -> bytes | None:
    """The next non-blank line, or ``None`` at EOF."""
    while True:
        line = await lines.readline()
        if line is None or line.strip():
            return line


async def _relay_challenge(
    name: str, process: anyio.abc.Process, msg: PluginAuthChallenge, auth: AsyncAuthHandler
) -> None:
    challenge = AuthChallenge(
        questions=tuple(Question(q.label, q.text, dict(q.options)) for q in msg.questions),
        options=dict(msg.options),
    )
    answer = await auth.on_challenge(challenge)
    reply = plugin_message_to_json(PluginAuthResponse(tuple(answer.answers))) + "\n"
    assert process.stdin is not None
    try:
        await process.stdin.send(reply.encode())
    except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
        # The plugin is gone; reading on reports how it exited.
        log.debug("plugin %r: could not deliver the auth response", name)


async def _early_exit(
    name: str, process: anyio.abc.Process, stderr: StderrPump
) -> ExternalPluginError:
    """The plugin closed stdout before finishing setup: say how it exited and what it said."""
    with anyio.move_on_after(EXIT_WAIT):
        await process.wait()
    await stderr.wait(1.0)
    if process.returncode is None:
        text = f"plugin {name!r} closed its stdout before it was ready"
    else:
        text = f"plugin {name!r} {describe_exit(process.returncode)} before it was ready"
    said = stderr.last_lines()
    if said:
        text += f"; its stderr ended with:\n{said}"
    return ExternalPluginError(text)
