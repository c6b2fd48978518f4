"""The ControlMaster of the openssh backend: one ``ssh -M`` process per session.

The master authenticates once (every ``~/.ssh/config`` directive applies: Host aliases,
HostName, ProxyJump, the agent...), then every command, the SFTP subsystem and every
forward runs as an ``ssh -S <control socket>`` *mux client* through it. The control socket
lives in a private 0700 temporary directory that :meth:`OpensshMaster.aclose` removes.

Prompts: the master runs with ``SSH_ASKPASS_REQUIRE=force`` and ``SSH_ASKPASS`` pointing at
:mod:`distant_plugins.ssh.askpass`, which relays each prompt over a Unix socket to
:class:`AskpassRelay`: an unknown host key (``StrictHostKeyChecking=ask``) becomes
``auth.on_verification``, anything else (passphrase, password, keyboard-interactive) an
``auth.on_challenge``. A *changed* host key makes ssh refuse outright, which surfaces as a
:class:`~distant_manager.PluginError` with ssh's own explanation.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import anyio
import anyio.abc

from distant_codec import (
    AuthChallenge,
    AuthVerification,
    Question,
    VerificationKind,
)
from distant_manager import PluginError
from distant_net import AsyncAuthHandler
from distant_plugins.ssh import askpass
from distant_plugins.ssh.session import SshTarget

__all__ = ["AskpassRelay", "OpensshMaster", "master_args", "SSH"]

log = logging.getLogger("distant_plugins.ssh.openssh")

SSH = "ssh"
SERVER_ALIVE_INTERVAL = 15
_OPTION_NAME = re.compile(r"^[A-Z][A-Za-z0-9]*$")
_CONFIG_FILE_KEYS = ("config_file", "F")
_HOST_KEY_MARKERS = ("authenticity of host", "continue connecting")


def _exists(path: str) -> bool:
    """A cheap local ``stat`` (the control socket appears once the master is ready)."""
    return os.path.exists(path)


def _quote_option_value(value: str) -> str:
    """ssh splits some option values on whitespace; double quotes keep a path whole."""
    return f'"{value}"' if any(c.isspace() for c in value) else value


def _config_args(target: SshTarget) -> list[str]:
    for key in _CONFIG_FILE_KEYS:
        if target.extra.get(key):
            return ["-F", target.extra[key]]
    return []


def master_args(target: SshTarget, control_path: str) -> list[str]:
    """The command line of the master. The first value ssh obtains for an option wins, so
    the fixed mux settings come first, then the target's options, then ``extra`` (keys that
    look like ssh option names, e.g. ``StrictHostKeyChecking``; others are ignored), then
    our defaults, which the user's ``extra`` or ``~/.ssh/config`` cannot undo only where
    the backend depends on them."""
    args = [SSH, "-M", "-S", control_path, "-N", *_config_args(target)]
    args += ["-o", "ControlPersist=no", "-o", "BatchMode=no"]
    if target.port is not None:
        args += ["-p", str(target.port)]
    if target.user:
        args += ["-l", target.user]
    for identity in target.identity_files:
        args += ["-i", identity]
    if target.identities_only:
        args += ["-o", "IdentitiesOnly=yes"]
    if target.proxy_command:
        args += ["-o", f"ProxyCommand={target.proxy_command}"]
    if target.user_known_hosts_files:
        files = " ".join(_quote_option_value(f) for f in target.user_known_hosts_files)
        args += ["-o", f"UserKnownHostsFile={files}"]
    if target.verbose:
        args.append("-v")
    for key, value in target.extra.items():
        if _OPTION_NAME.match(key) and key not in _CONFIG_FILE_KEYS:
            args += ["-o", f"{key}={value}"]
    args += [
        "-o", "StrictHostKeyChecking=ask",
        "-o", f"ServerAliveInterval={SERVER_ALIVE_INTERVAL}",
        "-o", f"ConnectTimeout={max(1, int(target.connect_timeout))}",
        "--", target.host,
    ]  # fmt: skip
    return args


class AskpassRelay:
    """Answers the askpass program's prompts through the session's auth handler."""

    def __init__(self, auth: AsyncAuthHandler) -> None:
        self.auth = auth
        self.prompts: list[str] = []
        self.errors: list[Exception] = []

    async def serve(self, listener: anyio.abc.Listener[anyio.abc.SocketStream]) -> None:
        async with listener:
            await listener.serve(self._handle)

    async def _handle(self, stream: anyio.abc.SocketStream) -> None:
        async with stream:
            chunks: list[bytes] = []
            with contextlib.suppress(anyio.EndOfStream):
                while True:
                    chunks.append(await stream.receive())
                    if sum(map(len, chunks)) > 64 * 1024:
                        return  # not from our askpass program
            hint, _, prompt = b"".join(chunks).decode("utf-8", "surrogateescape").partition("\0")
            try:
                answer = await self.answer(prompt.strip(), hint)
            except Exception as exc:  # the user or the relay failed: refuse the prompt
                self.errors.append(exc)
                answer = None
            reply = b"0" if answer is None else b"1" + answer.encode("utf-8", "surrogateescape")
            with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
                await stream.send(reply)

    async def answer(self, prompt: str, hint: str = "") -> str | None:
        """``None`` refuses (askpass exits non-zero: ssh treats the prompt as cancelled)."""
        self.prompts.append(prompt)
        lowered = prompt.lower()
        if hint == "confirm" or any(marker in lowered for marker in _HOST_KEY_MARKERS):
            kind = VerificationKind.HOST if "host" in lowered else VerificationKind.UNKNOWN
            verdict = await self.auth.on_verification(AuthVerification(kind=kind, text=prompt))
            return "yes" if verdict.valid else "no"
        question = Question(label="ssh-prompt", text=prompt, options={"echo": "false"})
        response = await self.auth.on_challenge(
            AuthChallenge(questions=(question,), options={"backend": "openssh"})
        )
        if not response.answers:
            return None
        return response.answers[0]


class OpensshMaster:
    """The ``ssh -M`` process, its private directory and the mux client command lines."""

    def __init__(self, target: SshTarget) -> None:
        self.target = target
        base = tempfile.gettempdir()
        if len(base) > 40:  # Unix socket paths are short (ssh adds a suffix while binding)
            base = "/tmp"
        self.directory = Path(tempfile.mkdtemp(prefix="distant-ssh-", dir=base))
        self.directory.chmod(0o700)
        self.control_path = str(self.directory / "ctl")
        self.log_path = self.directory / "master.log"
        self.process: anyio.abc.Process | None = None
        self.relay: AskpassRelay | None = None

    def __repr__(self) -> str:
        return f"<OpensshMaster {self.target.host} {self.control_path}>"

    # -- command lines for mux clients -----------------------------------------------------

    def client_args(self, *options: str) -> list[str]:
        """``ssh`` talking to the master only: ``ControlMaster=no`` plus a ProxyCommand that
        fails makes sure a client never falls back to a fresh connection of its own (with no
        askpass relay) if the master is gone."""
        return [
            SSH, "-S", self.control_path, *_config_args(self.target),
            "-o", "ControlMaster=no", "-o", "BatchMode=yes", "-o", "ProxyCommand=false",
            "-o", "LogLevel=ERROR", *options,
        ]  # fmt: skip

    def host_args(self, *after: str) -> list[str]:
        return ["--", self.target.host, *after] if after else [self.target.host]

    # -- lifecycle -------------------------------------------------------------------------

    def _askpass_program(self) -> str:
        program = self.directory / "askpass"
        program.write_text(
            "#!/bin/sh\n"
            f'exec {shlex.quote(sys.executable)} -I -S {shlex.quote(askpass.__file__)} "$@"\n'
        )
        program.chmod(0o700)
        return str(program)

    async def start(self, auth: AsyncAuthHandler) -> None:
        """Start the master and return once it is authenticated (its control socket
        answers), relaying prompts meanwhile; raise :class:`PluginError` if it fails."""
        if shutil.which(SSH) is None:
            raise PluginError("the openssh backend needs the ssh program (OpenSSH client)")
        socket_path = str(self.directory / "askpass.sock")
        env = dict(os.environ)
        env.update(
            SSH_ASKPASS=self._askpass_program(),
            SSH_ASKPASS_REQUIRE="force",
            **{askpass.SOCKET_ENV: socket_path},
        )
        self.relay = AskpassRelay(auth)
        listener = await anyio.create_unix_listener(socket_path)
        try:
            log = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                self.process = await anyio.open_process(
                    master_args(self.target, self.control_path),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                    env=env,
                    start_new_session=True,
                )
            finally:
                os.close(log)
            failure: PluginError | None = None
            async with anyio.create_task_group() as tg:
                tg.start_soon(self.relay.serve, listener)
                with anyio.move_on_after(self.target.connect_timeout) as timeout:
                    try:
                        await self._wait_ready()
                    except PluginError as exc:  # raised below, not as an exception group
                        failure = exc
                tg.cancel_scope.cancel()
            if failure is not None:
                raise failure
            if timeout.cancelled_caught:
                raise PluginError(
                    f"ssh to {self.target.host} did not connect within "
                    f"{self.target.connect_timeout:g} s{self._log_tail(': ')}"
                )
        except BaseException:
            with anyio.CancelScope(shield=True):
                await listener.aclose()
                await self.aclose()
            raise

    async def _wait_ready(self) -> None:
        assert self.process is not None
        delay = 0.01
        while True:
            if self.process.returncode is not None:
                raise PluginError(
                    f"ssh to {self.target.host} failed"
                    f"{self._log_tail(': ') or f' (exit status {self.process.returncode})'}"
                )
            if _exists(self.control_path) and await self.control("check"):
                return
            await anyio.sleep(delay)
            delay = min(delay * 1.5, 0.2)

    def _log_tail(self, prefix: str = "", lines: int = 6) -> str:
        """ssh's last words for an error message: its final line (the reason, e.g.
        "Permission denied (publickey)."), one line as every plugin error; the last
        ``lines`` lines go to the log."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        kept = [line.strip() for line in text.splitlines() if line.strip()][-lines:]
        if not kept:
            return ""
        log.info("ssh to %s: %s", self.target.host, " | ".join(kept))
        return prefix + kept[-1]

    async def control(self, command: str, *options: str) -> bool:
        """``ssh -O command``; True when the master accepted it."""
        result = await self.run_control(command, *options)
        return result.returncode == 0

    async def run_control(self, command: str, *options: str) -> subprocess.CompletedProcess[bytes]:
        return await anyio.run_process(
            self.client_args("-O", command, *options, *self.host_args()),
            check=False,
            stdin=subprocess.DEVNULL,
        )

    @property
    def closed(self) -> bool:
        return self.process is None or self.process.returncode is not None

    async def wait(self) -> None:
        if self.process is not None:
            await self.process.wait()

    async def aclose(self) -> None:
        """``-O exit``, then end the master by its PID if it lingers; remove the directory."""
        process = self.process
        if process is not None and process.returncode is None:
            with anyio.CancelScope(shield=True):
                if _exists(self.control_path):
                    with anyio.move_on_after(5):
                        await self.control("exit")
                with anyio.move_on_after(5):
                    await process.wait()
                if process.returncode is None:
                    process.terminate()
                    with anyio.move_on_after(5):
                        await process.wait()
                if process.returncode is None:
                    process.kill()
                    await process.wait()
        if process is not None:
            await process.aclose()
        shutil.rmtree(self.directory, ignore_errors=True)
