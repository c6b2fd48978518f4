"""The fast path (DESIGN.md "The CLI starts fast"): which command lines it takes, that it
imports none of click, trio, anyio, asyncssh, docker or the server, and that its output is
the click path's."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest

from distant_cli.fastpath import parse
from tests.cli.harness import CliSession

HEAVY = ("click", "trio", "anyio", "asyncssh", "docker", "distant_server", "asyncio")


@pytest.mark.parametrize(
    ("argv", "function", "positionals", "kwargs", "connection"),
    [
        (["fs", "exists", "/x"], "fs_exists", ["/x"], {}, None),
        (["fs", "exists", "--connection", "7", "--", "-x"], "fs_exists", ["-x"], {}, 7),
        (["fs", "metadata", "p", "--canonicalize", "--resolve-file-type"], "fs_metadata", ["p"],
         {"canonicalize": True, "resolve_file_type": True}, None),
        (["fs", "read", "d", "--depth=0", "--absolute", "--include-root"], "fs_read", ["d"],
         {"depth": 0, "absolute": True, "include_root": True}, None),
        (["fs", "write", "f", "data", "--append"], "fs_write", ["f", "data"], {"append": True},
         None),
        (["fs", "write", "f"], "fs_write", ["f"], {}, None),
        (["fs", "make-dir", "d", "--all"], "fs_make_dir", ["d"], {"all": True}, None),
        (["fs", "remove", "d", "--force"], "fs_remove", ["d"], {"force": True}, None),
        (["fs", "copy", "a", "b"], "fs_copy", ["a", "b"], {}, None),
        (["fs", "rename", "a", "b", "--connection=9"], "fs_rename", ["a", "b"], {}, 9),
        (["system-info"], "system_info", [], {}, None),
        (["version", "-f", "json"], "version", [], {"fmt": "json"}, None),
        (["-q", "--log-level", "off", "version", "--format=shell"], "version", [],
         {"fmt": "shell"}, None),
    ],
)  # fmt: skip
def test_handled(
    argv: list[str],
    function: str,
    positionals: list[str],
    kwargs: dict[str, object],
    connection: int | None,
) -> None:
    parsed = parse(argv)
    assert parsed is not None
    assert parsed.command.function == function
    assert parsed.positionals == positionals
    assert parsed.kwargs == kwargs
    assert parsed.connection == connection


def test_network_and_global_flags() -> None:
    parsed = parse(["--config", "c.toml", "fs", "exists", "p", "--unix-socket", "s",
                    "--cache=k", "--log-file", "l"])  # fmt: skip
    assert parsed is not None
    assert parsed.settings == {"config": "c.toml", "unix_socket": "s", "cache": "k",
                               "log_file": "l"}  # fmt: skip


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["fs"],
        ["fs", "exists"],  # missing PATH: click says so
        ["fs", "exists", "a", "b"],
        ["fs", "exists", "--help"],
        ["fs", "exists", "p", "-h"],
        ["fs", "exists", "p", "--bogus"],
        ["fs", "exists", "p", "--connection", "x"],
        ["fs", "exists", "p", "--connection", "-1"],
        ["fs", "exists", "p", "--connection"],
        ["fs", "read", "p", "--depth", "-2"],
        ["fs", "search", "x"],
        ["fs", "exists", "p", "--all"],  # a flag of another command
        ["version", "-f", "xml"],
        ["system-info", "-f", "json"],  # system-info has no --format
        ["--log-level", "loud", "version"],
        ["--version"],
        ["connect", "x"],
        ["status"],
        ["version", "extra"],
        ["fs", "exists", "p", "-q"],  # -q is a global flag: before the command only
    ],
)
def test_falls_through(argv: list[str]) -> None:
    assert parse(argv) is None


WRAPPER = textwrap.dedent(
    """
    import atexit, sys
    HEAVY = {heavy!r}
    def report():
        loaded = sorted({{m.split(".")[0] for m in sys.modules}} & set(HEAVY))
        sys.stderr.write("HEAVY=" + ",".join(loaded) + "\\n")
    atexit.register(report)
    from distant_cli.main import main
    sys.exit(main(sys.argv[1:]))
    """
)


def _run_wrapped(cli: CliSession, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", WRAPPER.format(heavy=HEAVY), *args],
        capture_output=True,
        text=True,
        env=cli.cli.env(),
        timeout=60,
        start_new_session=True,
        check=False,
    )


@pytest.mark.parametrize(
    "args",
    [
        ["fs", "exists", "/"],
        ["system-info"],
        ["version", "--format", "json"],
        ["fs", "exists", "/", "--connection", "4000000000"],  # failures stay light too
    ],
)
def test_fast_path_imports_nothing_heavy(cli: CliSession, args: list[str]) -> None:
    done = _run_wrapped(cli, *args)
    assert done.stderr.splitlines()[-1] == "HEAVY=", done.stderr
    if "4000000000" not in args:
        assert done.returncode == 0, done.stderr


def test_fs_exists_through_the_fast_path(cli: CliSession) -> None:
    done = _run_wrapped(cli, "fs", "exists", "/")
    assert (done.returncode, done.stdout) == (0, "true\n")
    missing = _run_wrapped(cli, "fs", "exists", "/definitely/not/here")
    assert (missing.returncode, missing.stdout) == (0, "false\n")


def test_the_click_path_is_slower_to_import(cli: CliSession) -> None:
    done = _run_wrapped(cli, "status", "-f", "json")
    assert "click" in done.stderr.splitlines()[-1]


@pytest.mark.parametrize(
    "args", [["system-info"], ["version"], ["version", "-f", "json"], ["fs", "exists", "/"]]
)
def test_same_output_on_both_paths(cli: CliSession, args: list[str]) -> None:
    fast = cli.run(*args)
    slow = cli.run(*args, env={"DISTANT_NO_FASTPATH": "1"})
    assert (fast.returncode, fast.stdout) == (slow.returncode, slow.stdout)


@pytest.fixture
def remote_dir(cli: CliSession) -> Iterator[str]:
    """A fresh directory on the remote side (made through distant, so any backend works)."""
    done = cli.run("spawn", "--", "mktemp", "-d")
    assert done.returncode == 0, done.stderr
    path = done.stdout.strip()
    assert path.startswith("/")
    yield path
    cli.run("fs", "remove", "--force", path)


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "click"])
def test_fs_commands_on_both_paths(cli: CliSession, remote_dir: str, fast: bool) -> None:
    env = {} if fast else {"DISTANT_NO_FASTPATH": "1"}
    root = f"{remote_dir}/{'fast' if fast else 'click'}"

    def run(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        done = cli.run(*args, input=input, env=env)
        assert done.returncode == 0, (args, done.stderr)
        return done

    def checked(*args: str) -> str:  # through the click path, whatever ``fast`` is
        done = cli.run(*args, env={"DISTANT_NO_FASTPATH": "1"})
        assert done.returncode == 0, (args, done.stderr)
        return done.stdout

    run("fs", "make-dir", f"{root}/a/b", "--all")
    assert "Type: dir" in checked("fs", "metadata", f"{root}/a/b")
    run("fs", "write", f"{root}/f.txt", "hello")
    run("fs", "write", f"{root}/f.txt", "--append", input=" world")
    assert checked("fs", "read", f"{root}/f.txt") == "hello world"
    assert run("fs", "read", f"{root}/f.txt").stdout == "hello world"
    run("fs", "copy", f"{root}/f.txt", f"{root}/g.txt")
    run("fs", "rename", f"{root}/g.txt", f"{root}/-h.txt")
    assert run("fs", "exists", "--", f"{root}/-h.txt").stdout == "true\n"
    assert checked("fs", "exists", f"{root}/g.txt") == "false\n"
    listing = run("fs", "read", root, "--depth", "0").stdout
    assert "f.txt" in listing and "<DIR>" in listing
    meta = run("fs", "metadata", f"{root}/f.txt").stdout
    assert "Type: file" in meta and "Len: 11" in meta
    run("fs", "remove", f"{root}/a", "--force")
    assert checked("fs", "exists", f"{root}/a") == "false\n"
