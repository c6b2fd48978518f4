"""The remote command line of ``proc_spawn`` (``distant_plugins.ssh.api_process``); the
end-to-end behaviour over a real sshd is in ``test_api.py``."""

from __future__ import annotations

import subprocess

import pytest

from distant_plugins.ssh.api_process import NOT_FOUND_MARKER, leading_program, spawn_command
from distant_server import ApiError


def test_only_a_plain_first_word_is_checked() -> None:
    assert leading_program("echo hi") == "echo"
    assert leading_program("  ./run.sh --x") == "./run.sh"
    assert leading_program("/usr/bin/env") == "/usr/bin/env"
    for cmd in ["FOO=1 x", '"$X" a', "'quoted' a", "-x", "a;b", "$(pick) x", "~/bin/x", ""]:
        assert leading_program(cmd) is None, cmd


@pytest.mark.parametrize(
    ("cmd", "first_line", "code"),
    [
        ("echo hi", None, 0),
        ("surely-not-a-command-xyz", NOT_FOUND_MARKER, 127),
        ("'surely-not-a-command-xyz'", None, 127),  # not checked: the shell's own error
    ],
)
def test_the_line_prints_the_pid_or_the_marker(cmd: str, first_line: str | None, code: int) -> None:
    """Run by a real local ``sh``, as sshd would run it."""
    line = spawn_command(cmd, {"A": "it's"}, "/")
    done = subprocess.run(
        ["sh", "-c", line], check=False, capture_output=True, text=True, timeout=10
    )
    first = done.stdout.splitlines()[0]
    if first_line is None:
        assert first.isdigit()
    else:
        assert first == first_line
    assert done.returncode == code


def test_bad_input_is_refused() -> None:
    with pytest.raises(ApiError):
        spawn_command("  ", {}, None)
    with pytest.raises(ApiError):
        spawn_command("true", {"A B": "x"}, None)
