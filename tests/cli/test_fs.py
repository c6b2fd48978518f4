"""``distant fs ...`` end to end (§12.2): the real executable, a real manager and server.

Remote files are made and inspected through distant itself, in a directory created on the
remote side (:func:`remote_tmp`), so the tests hold for every backend.
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.cli.conftest import skip_unless
from tests.cli.harness import DISTANT, CliSession, kill_pid


@pytest.fixture
def remote_tmp(cli: CliSession) -> Iterator[str]:
    """A fresh directory on the remote machine, removed afterwards."""
    done = cli.run("spawn", "--", "mktemp", "-d")
    assert done.returncode == 0, done.stderr
    path = done.stdout.strip()
    assert path.startswith("/")
    yield path
    cli.run("fs", "remove", "--force", path)


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, (done.returncode, done.stdout, done.stderr)
    return done.stdout


def assert_one_line_error(done: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0]


def remote_sh(cli: CliSession, script: str) -> str:
    return ok(cli.run("spawn", "--", "sh", "-c", script))


# -- exists, write, read ---------------------------------------------------------------------


def test_exists(cli: CliSession, remote_tmp: str) -> None:
    assert ok(cli.run("fs", "exists", remote_tmp)) == "true\n"
    assert ok(cli.run("fs", "exists", f"{remote_tmp}/missing")) == "false\n"


def test_write_argument_stdin_and_append(cli: CliSession, remote_tmp: str) -> None:
    path = f"{remote_tmp}/file.txt"
    assert ok(cli.run("fs", "write", path, "hello")) == ""
    assert ok(cli.run("fs", "read", path)) == "hello"
    assert ok(cli.run("fs", "write", "--append", path, " world")) == ""
    assert ok(cli.run("fs", "read", path)) == "hello world"
    binary = bytes(range(256)) * 3
    done = cli.run_bytes("fs", "write", path, input=binary)
    assert done.returncode == 0, done.stderr
    assert cli.run_bytes("fs", "read", path).stdout == binary
    done = cli.run_bytes("fs", "write", "--append", path, input=b"\x00tail")
    assert done.returncode == 0
    assert cli.run_bytes("fs", "read", path).stdout == binary + b"\x00tail"


def test_read_directory_listing(cli: CliSession, remote_tmp: str) -> None:
    ok(cli.run("fs", "make-dir", f"{remote_tmp}/sub"))
    ok(cli.run("fs", "write", f"{remote_tmp}/file.txt", "x"))
    ok(cli.run("fs", "write", f"{remote_tmp}/sub/deep.txt", "y"))
    remote_sh(cli, f"ln -s file.txt {remote_tmp}/link")

    listing = ok(cli.run("fs", "read", remote_tmp))
    assert sorted(listing.splitlines(keepends=True)) == sorted(
        ["          file.txt\n", "<SYMLINK> link\n", "<DIR>     sub\n"]
    )
    everything = ok(cli.run("fs", "read", "--depth", "0", remote_tmp)).splitlines()
    assert "          sub/deep.txt" in everything
    assert len(everything) == 4
    absolute = ok(cli.run("fs", "read", "--absolute", remote_tmp)).splitlines()
    assert f"<DIR>     {remote_tmp}/sub" in absolute
    with_root = ok(cli.run("fs", "read", "--include-root", "--absolute", remote_tmp)).splitlines()
    assert len(with_root) == 4
    assert any(line.startswith("<DIR>     ") and line.endswith(remote_tmp) for line in with_root)


def test_read_missing_is_one_error_line(cli: CliSession, remote_tmp: str) -> None:
    done = cli.run("fs", "read", f"{remote_tmp}/missing")
    assert_one_line_error(done, "No such file or directory", f"{remote_tmp}/missing")


# -- make-dir, remove, rename, copy ----------------------------------------------------------


def test_make_dir(cli: CliSession, remote_tmp: str) -> None:
    nested = f"{remote_tmp}/a/b/c"
    assert_one_line_error(cli.run("fs", "make-dir", nested), "No such file or directory")
    assert ok(cli.run("fs", "make-dir", "--all", nested)) == ""
    assert ok(cli.run("fs", "exists", nested)) == "true\n"
    assert ok(cli.run("fs", "make-dir", f"{remote_tmp}/single")) == ""
    assert ok(cli.run("fs", "read", f"{remote_tmp}/single")) == ""


def test_remove(cli: CliSession, remote_tmp: str) -> None:
    ok(cli.run("fs", "make-dir", f"{remote_tmp}/d"))
    ok(cli.run("fs", "write", f"{remote_tmp}/d/f", "x"))
    assert_one_line_error(cli.run("fs", "remove", f"{remote_tmp}/d"), "not empty")
    assert ok(cli.run("fs", "remove", f"{remote_tmp}/d/f")) == ""
    assert ok(cli.run("fs", "exists", f"{remote_tmp}/d/f")) == "false\n"
    ok(cli.run("fs", "write", f"{remote_tmp}/d/g", "x"))
    assert ok(cli.run("fs", "remove", "--force", f"{remote_tmp}/d")) == ""
    assert ok(cli.run("fs", "exists", f"{remote_tmp}/d")) == "false\n"
    assert_one_line_error(cli.run("fs", "remove", f"{remote_tmp}/d"), "No such file")


def test_rename_and_copy(cli: CliSession, remote_tmp: str) -> None:
    ok(cli.run("fs", "write", f"{remote_tmp}/a", "content"))
    assert ok(cli.run("fs", "rename", f"{remote_tmp}/a", f"{remote_tmp}/b")) == ""
    assert ok(cli.run("fs", "exists", f"{remote_tmp}/a")) == "false\n"
    assert ok(cli.run("fs", "copy", f"{remote_tmp}/b", f"{remote_tmp}/c")) == ""
    assert ok(cli.run("fs", "read", f"{remote_tmp}/b")) == "content"
    assert ok(cli.run("fs", "read", f"{remote_tmp}/c")) == "content"
    ok(cli.run("fs", "make-dir", f"{remote_tmp}/dir"))
    ok(cli.run("fs", "write", f"{remote_tmp}/dir/inner", "i"))
    assert ok(cli.run("fs", "copy", f"{remote_tmp}/dir", f"{remote_tmp}/dir2")) == ""
    assert ok(cli.run("fs", "read", f"{remote_tmp}/dir2/inner")) == "i"
    assert_one_line_error(
        cli.run("fs", "rename", f"{remote_tmp}/nope", f"{remote_tmp}/x"), "No such file"
    )


# -- metadata, set-permissions ---------------------------------------------------------------

METADATA = re.compile(
    r"Type: (?P<type>file|dir|symlink)\n"
    r"Len: (?P<len>\d+)\n"
    r"Readonly: (?P<readonly>true|false)\n"
    r"Created: \d+\n"
    r"Last Accessed: \d+\n"
    r"Last Modified: \d+\n"
    r"Owner Read: (true|false)\nOwner Write: (?P<ow>true|false)\nOwner Exec: (?P<ox>true|false)\n"
    r"Group Read: (true|false)\nGroup Write: (?P<gw>true|false)\nGroup Exec: (true|false)\n"
    r"Other Read: (true|false)\nOther Write: (?P<xw>true|false)\nOther Exec: (true|false)\n"
)


def metadata(cli: CliSession, path: str, *flags: str) -> re.Match[str]:
    out = ok(cli.run("fs", "metadata", *flags, path))
    body = out.split("\n", 1)[1] if out.startswith("Canonicalized Path: ") else out
    match = METADATA.fullmatch(body)
    assert match, out
    return match


def test_metadata(cli: CliSession, remote_tmp: str) -> None:
    ok(cli.run("fs", "write", f"{remote_tmp}/f", "12345"))
    remote_sh(cli, f"ln -s f {remote_tmp}/link")
    m = metadata(cli, f"{remote_tmp}/f")
    assert (m["type"], m["len"], m["readonly"]) == ("file", "5", "false")
    assert metadata(cli, remote_tmp)["type"] == "dir"
    assert metadata(cli, f"{remote_tmp}/link")["type"] == "symlink"
    assert metadata(cli, f"{remote_tmp}/link", "--resolve-file-type")["type"] == "file"
    out = ok(cli.run("fs", "metadata", "--canonicalize", f"{remote_tmp}/link"))
    real = remote_sh(cli, f"cd {remote_tmp} && pwd -P").strip()
    assert out.startswith(f'Canonicalized Path: "{real}/f"\nType: symlink\n')
    assert_one_line_error(cli.run("fs", "metadata", f"{remote_tmp}/missing"), "No such file")


def test_set_permissions(cli: CliSession, remote_tmp: str) -> None:
    path = f"{remote_tmp}/f"
    ok(cli.run("fs", "write", path, "x"))

    def mode() -> str:
        return remote_sh(cli, f"stat -c %a {path}").strip()

    assert ok(cli.run("fs", "set-permissions", "640", path)) == ""
    assert mode() == "640"
    ok(cli.run("fs", "set-permissions", "u+x,o+r", path))
    assert mode() == "744"
    ok(cli.run("fs", "set-permissions", "go-r", path))
    assert mode() == "700"
    ok(cli.run("fs", "set-permissions", "readonly", path))
    assert mode() == "500"
    m = metadata(cli, path)
    assert (m["readonly"], m["ow"], m["ox"]) == ("true", "false", "true")
    ok(cli.run("fs", "set-permissions", "notreadonly", path))
    assert mode() == "722"
    ok(cli.run("fs", "set-permissions", "-w", path))  # a mode that looks like a flag
    assert mode() == "500"

    ok(cli.run("fs", "make-dir", "--all", f"{remote_tmp}/tree/sub"))
    ok(cli.run("fs", "write", f"{remote_tmp}/tree/sub/leaf", "x"))
    ok(cli.run("fs", "set-permissions", "-R", "700", f"{remote_tmp}/tree"))
    assert remote_sh(cli, f"stat -c %a {remote_tmp}/tree/sub/leaf").strip() == "700"

    bad = cli.run("fs", "set-permissions", "zz", path)
    assert_one_line_error(bad, "Failed to parse mode string")


# -- search ----------------------------------------------------------------------------------


@pytest.fixture
def search_tree(cli: CliSession, remote_tmp: str) -> str:
    ok(cli.run("fs", "make-dir", "--all", f"{remote_tmp}/src/deep"))
    ok(cli.run("fs", "write", f"{remote_tmp}/src/a.txt", "foo bar\nbaz\nfoo again  \n"))
    ok(cli.run("fs", "write", f"{remote_tmp}/src/deep/b.txt", "nothing\nfoo\n"))
    ok(cli.run("fs", "write", f"{remote_tmp}/src/c.log", "no match here\n"))
    return remote_tmp


def test_search_contents(cli: CliSession, search_tree: str) -> None:
    a, b = f"{search_tree}/src/a.txt", f"{search_tree}/src/deep/b.txt"
    out = ok(cli.run("fs", "search", "fo+", f"{search_tree}/src"))
    block_a, block_b = f"{a}\n1:foo bar\n3:foo again\n", f"{b}\n2:foo\n"
    # A path header per file, a blank line between files; file order is the server's.
    assert out in (f"{block_a}\n{block_b}", f"{block_b}\n{block_a}")
    only_a = ok(cli.run("fs", "search", "foo", a))
    assert only_a == f"{a}\n1:foo bar\n3:foo again\n"


def test_search_paths_and_options(cli: CliSession, search_tree: str) -> None:
    src = f"{search_tree}/src"
    paths = ok(cli.run("fs", "search", "--target", "path", r"\.txt$", src)).splitlines()
    assert sorted(paths) == [f"{src}/a.txt", f"{src}/deep/b.txt"]
    shallow = ok(cli.run("fs", "search", "--target", "path", "--max-depth", "1", r"\.txt$", src))
    assert shallow == f"{src}/a.txt\n"
    excluded = ok(cli.run("fs", "search", "--exclude", "deep", "foo", src))
    assert f"{src}/deep" not in excluded and f"{src}/a.txt" in excluded
    included = ok(cli.run("fs", "search", "--include", r"b\.txt", "foo", src))
    assert included == f"{src}/deep/b.txt\n2:foo\n"
    limited = ok(cli.run("fs", "search", "--limit", "1", "foo", f"{src}/a.txt"))
    assert limited == f"{src}/a.txt\n1:foo bar\n"
    assert ok(cli.run("fs", "search", "nomatchatall", src)) == ""


def test_search_errors(cli: CliSession, remote_tmp: str) -> None:
    done = cli.run("fs", "search", "(unclosed", remote_tmp)
    assert done.returncode == 1
    assert done.stderr.startswith("error: ")
    assert "Traceback" not in done.stderr


# -- watch -----------------------------------------------------------------------------------


class StdoutLines:
    """What a streaming command printed so far, read as it comes."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        self.fd = proc.stdout.fileno()
        self.out = b""

    def wait(self, wanted: list[str], timeout: float = 30) -> str:
        """Read until every line of ``wanted`` has appeared (in any order)."""
        import os
        import select

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(w in self.out.decode().splitlines() for w in wanted):
                return self.out.decode()
            ready, _, _ = select.select([self.fd], [], [], 0.1)
            if ready:
                chunk = os.read(self.fd, 65536)
                if not chunk:
                    break
                self.out += chunk
        raise AssertionError(f"wanted {wanted}, got {self.out!r}")


def _wait_stderr(proc: subprocess.Popen[bytes], text: bytes, timeout: float) -> bytes:
    import os
    import select

    assert proc.stderr is not None
    fd = proc.stderr.fileno()
    err = b""
    deadline = time.monotonic() + timeout
    while text not in err and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            err += chunk
    assert text in err, err
    return err


def test_watch(cli: CliSession, remote_tmp: str) -> None:
    skip_unless(cli, "watch")
    proc = subprocess.Popen(
        [*DISTANT, "fs", "watch", "--recursive", remote_tmp],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli.cli.env(),
        start_new_session=True,
    )
    try:
        _wait_stderr(proc, f'Watching "{remote_tmp}"'.encode(), 30)
        lines = StdoutLines(proc)
        path = f"{remote_tmp}/new.txt"
        ok(cli.run("fs", "write", path, "x"))
        lines.wait([f"(Created) {path}"])
        time.sleep(1)  # past the server's debounce, so the next change is not merged into it
        ok(cli.run("fs", "write", "--append", path, "y"))
        lines.wait([f"(Modified) {path}"])
        ok(cli.run("fs", "remove", path))
        out = lines.wait([f"(Created) {path}", f"(Modified) {path}", f"(Removed) {path}"])
        for line in out.splitlines():
            assert re.fullmatch(
                r"\((Created|Removed|Accessed|Modified|Renamed|Affected)\) /.*", line
            ), line
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 130
    finally:
        if proc.poll() is None:
            kill_pid(proc.pid)
        proc.wait()
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()
        proc.stderr.close()


def test_watch_only(cli: CliSession, remote_tmp: str) -> None:
    skip_unless(cli, "watch")
    proc = subprocess.Popen(
        [*DISTANT, "fs", "watch", "--only", "create", "--only", "delete", remote_tmp],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli.cli.env(),
        start_new_session=True,
    )
    try:
        _wait_stderr(proc, b"Watching", 30)
        ok(cli.run("fs", "write", f"{remote_tmp}/f", "x"))
        ok(cli.run("fs", "write", "--append", f"{remote_tmp}/f", "y"))
        ok(cli.run("fs", "remove", f"{remote_tmp}/f"))
        out = StdoutLines(proc).wait([f"(Created) {remote_tmp}/f", f"(Removed) {remote_tmp}/f"])
        assert "(Modified)" not in out
    finally:
        kill_pid(proc.pid)
        proc.wait()
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()
        proc.stderr.close()


def test_watch_missing_path(cli: CliSession, remote_tmp: str) -> None:
    skip_unless(cli, "watch")
    done = cli.run("fs", "watch", f"{remote_tmp}/missing", timeout=30)
    assert_one_line_error(done, "No such file or directory")
    bad = cli.run("fs", "watch", "--only", "bogus", remote_tmp)
    assert bad.returncode == 1 and "invalid change kind" in bad.stderr
