"""``distant shell`` (and ``ssh``) end to end on a pseudo-terminal: raw mode, remote echo,
window-size changes, exit codes, and the local terminal restored on every exit path."""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import shlex
import struct
import subprocess
import termios
import time
from collections.abc import Iterator

import pytest

from tests.cli.harness import DISTANT, CliSession, kill_pid


def test_exit_code_and_remote_echo(cli: CliSession) -> None:
    result = cli.run_pty(
        ["shell", "--", "sh", "-c", "read line; echo got:$line; exit 7"],
        [(b"", b"hello\r")],
    )
    assert result.returncode == 7
    assert b"hello" in result.output  # echoed by the remote terminal, not ours
    assert b"got:hello\r\n" in result.output


def test_default_shell_runs_commands(cli: CliSession) -> None:
    result = cli.run_pty(["shell"], b"echo hi-$((6*7))\rexit 3\r")
    assert result.returncode == 3
    assert b"hi-42" in result.output


def test_ctrl_c_goes_to_the_remote_terminal(cli: CliSession) -> None:
    """In raw mode Ctrl-C is a byte for the remote side: the remote shell's trap runs and
    decides the exit code (a local SIGINT would have ended with 130)."""
    script = "trap 'echo trapped; exit 9' INT; echo ready; while :; do sleep 1; done"
    result = cli.run_pty(["shell", "--", "sh", "-c", script], [(b"ready", b"\x03")])
    assert b"trapped" in result.output
    assert result.returncode == 9


def test_no_exit_code_is_one(cli: CliSession) -> None:
    result = cli.run_pty(["shell", "--", "sh", "-c", "kill -9 $$"])
    assert result.returncode == 1


def test_options(cli: CliSession) -> None:
    result = cli.run_pty(
        ["shell", "--environment", 'GREETING="hi there"', "--current-dir", "/", "--",
         "sh", "-c", 'echo "$GREETING in $(pwd) as $TERM"'],
    )  # fmt: skip
    assert result.returncode == 0
    assert b"hi there in / as xterm-256color" in result.output


class Terminal:
    """A pseudo-terminal running a command line under ``sh`` (so that what runs after
    ``distant`` can look at the terminal ``distant`` leaves behind)."""

    def __init__(self, cli: CliSession, script: str, rows: int = 24, cols: int = 80) -> None:
        self.master, slave = os.openpty()
        self.resize(rows, cols, signal_child=False)

        def controlling_terminal() -> None:
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen(
            ["sh", "-c", script],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=cli.cli.env({"DISTANT": shlex.join(DISTANT)}),
            start_new_session=True,
            preexec_fn=controlling_terminal,  # noqa: PLW1509 - tests, no threads
        )
        os.close(slave)
        self.output = b""

    def resize(self, rows: int, cols: int, *, signal_child: bool = True) -> None:
        # The kernel sends SIGWINCH to the terminal's foreground process group.
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def write(self, data: bytes) -> None:
        os.write(self.master, data)

    def expect(self, text: bytes, timeout: float = 30) -> bytes:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{text!r} not in {self.output!r}")
            ready, _, _ = select.select([self.master], [], [], min(remaining, 0.1))
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:
                    chunk = b""
                if not chunk:
                    raise AssertionError(f"EOF before {text!r}; got {self.output!r}")
                self.output += chunk
        return self.output

    def finish(self, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:
                    chunk = b""
                if not chunk:
                    break
                self.output += chunk
            elif self.proc.poll() is not None:
                break
        return self.proc.wait(timeout=max(1.0, deadline - time.monotonic()))

    def close(self) -> None:
        if self.proc.poll() is None:
            kill_pid(self.proc.pid, timeout=2.0)
            self.proc.wait()
        os.close(self.master)


@pytest.fixture
def terminal(cli: CliSession) -> Iterator[list[Terminal]]:
    made: list[Terminal] = []
    yield made
    for t in made:
        t.close()


def _stty_flags(output: bytes) -> set[str]:
    """The settings words of ``stty -a`` (``echo``, ``-icanon``, ...)."""
    return {word.decode() for word in output.replace(b";", b" ").split()}


@pytest.mark.parametrize(
    ("remote", "code"),
    [("exit 5", 5), ("kill -9 $$", 1)],
)
def test_terminal_is_raw_during_and_restored_after(
    cli: CliSession, terminal: list[Terminal], remote: str, code: int
) -> None:
    script = f"$DISTANT shell -- sh -c 'read x; {remote}'; echo \"rc=$?\"; stty -a; echo END"
    t = Terminal(cli, script)
    terminal.append(t)
    time.sleep(0.5)  # let distant switch the terminal to raw mode before looking at it
    t.expect(b"")
    attrs = termios.tcgetattr(t.master)
    deadline = time.monotonic() + 30
    while attrs[3] & termios.ICANON and time.monotonic() < deadline:
        time.sleep(0.05)
        attrs = termios.tcgetattr(t.master)
    assert not attrs[3] & (termios.ICANON | termios.ECHO), "not raw during the session"
    t.write(b"go\r")
    out = t.expect(b"END")
    assert f"rc={code}".encode() in out
    flags = _stty_flags(out.split(f"rc={code}".encode(), 1)[1])
    assert {"icanon", "echo", "isig", "icrnl", "opost"} <= flags, out
    assert t.finish() == 0


def test_terminal_restored_when_the_manager_goes_away(cli: CliSession, tmp_path: object) -> None:
    """Even when the command fails mid-session (its manager is killed), the terminal is
    restored: uses a manager of its own."""
    from pathlib import Path

    from tests.cli.harness import start_session

    assert isinstance(tmp_path, Path)
    own = start_session("host", tmp_path / "own")
    t = None
    try:
        script = "$DISTANT shell -- sh -c 'echo ready; sleep 60'; echo \"rc=$?\"; stty -a; echo END"
        t = Terminal(own, script)
        t.expect(b"ready")
        own.manager.stop()
        out = t.expect(b"END")
        assert b"rc=1" in out
        flags = _stty_flags(out.split(b"rc=1", 1)[1])
        assert {"icanon", "echo", "isig"} <= flags, out
    finally:
        if t is not None:
            t.close()
        own.manager.stop()


def test_window_size_is_forwarded(cli: CliSession, terminal: list[Terminal]) -> None:
    """The size at start, then a resize: each Enter makes the remote print its size again
    until the new one shows (a loaded machine may take a moment to deliver the resize)."""
    script = "$DISTANT shell -- sh -c 'stty size; echo next; while read x; do stty size; done'"
    t = Terminal(cli, script, rows=30, cols=100)
    terminal.append(t)
    t.expect(b"30 100\r\n")
    t.expect(b"next")
    t.resize(40, 132)
    deadline = time.monotonic() + 20
    while b"40 132\r\n" not in t.output.split(b"next", 1)[1]:
        assert time.monotonic() < deadline, t.output
        t.write(b"\r")
        with contextlib.suppress(AssertionError):
            t.expect(b"40 132\r\n", timeout=0.5)
    t.write(b"\x04")  # Ctrl-D: the loop's read ends, and so does the shell
    assert t.finish() == 0


def test_ssh_reports_connection_errors(cli: CliSession) -> None:
    """``ssh`` adds ``ssh://`` and connects through the manager; a failure is one clean
    error (exit 1), whatever the state of the ssh plugin."""
    done = cli.run("ssh", "--options", "port=1", "nobody@127.0.0.1:1", timeout=120)
    assert done.returncode == 1
    assert done.stderr.startswith("error: ") or "\nerror: " in done.stderr
    assert "Traceback" not in done.stderr
    assert "ssh://nobody@127.0.0.1:1" in done.stderr


def test_piped_stdin_ends_with_ctrl_d(cli: CliSession) -> None:
    """With a stdin that is not a terminal, its end reaches the remote terminal as Ctrl-D."""
    done = cli.run_bytes("shell", "--", "sh", "-c", "cat; echo done; exit 4", input=b"abc\n")
    assert done.returncode == 4
    assert done.stdout.count(b"abc\r\n") == 2  # echoed by the terminal, then by cat
    assert done.stdout.endswith(b"done\r\n")
    scripted = cli.run_bytes("shell", "--", "sh", input=b"echo hi-$((6*7))\nexit 3\n")
    assert scripted.returncode == 3
    assert b"hi-42\r\n" in scripted.stdout
