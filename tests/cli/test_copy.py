"""``distant copy SRC DST [-r]`` end to end: both directions, directories, errors, the
streamed (``fs_range``) path with constant memory, and the whole-file fallback."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from distant_cli.errors import CliError
from tests.cli import test_fs
from tests.cli.harness import DISTANT, CliSession
from tests.cli.test_fs import assert_one_line_error, ok

remote_tmp = test_fs.remote_tmp  # the fixture

MIB = 1024 * 1024


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(MIB):
            digest.update(chunk)
    return digest.hexdigest()


def remote_sha256(cli: CliSession, path: str) -> str:
    return ok(cli.run("spawn", "--", "sha256sum", path)).split()[0]


def random_file(path: Path, size: int) -> Path:
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 4 * MIB)
            f.write(os.urandom(n))
            left -= n
    return path


def test_file_both_directions(cli: CliSession, remote_tmp: str, tmp_path: Path) -> None:
    src = random_file(tmp_path / "small.bin", 100_000)
    done = cli.run("copy", str(src), f":{remote_tmp}/small.bin")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert remote_sha256(cli, f"{remote_tmp}/small.bin") == sha256(src)

    back = tmp_path / "back.bin"
    done = cli.run("copy", f":{remote_tmp}/small.bin", str(back))
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert sha256(back) == sha256(src)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["back.bin", "small.bin"]  # no temps


def test_destination_directory_receives_the_file(
    cli: CliSession, remote_tmp: str, tmp_path: Path
) -> None:
    src = tmp_path / "named.txt"
    src.write_text("hello")
    ok(cli.run("copy", str(src), f":{remote_tmp}"))
    assert ok(cli.run("fs", "read", f"{remote_tmp}/named.txt")) == "hello"
    into = tmp_path / "into"
    into.mkdir()
    ok(cli.run("copy", f":{remote_tmp}/named.txt", str(into)))
    assert (into / "named.txt").read_text() == "hello"


def test_empty_file_and_overwrite(cli: CliSession, remote_tmp: str, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    ok(cli.run("copy", str(empty), f":{remote_tmp}/empty"))
    assert ok(cli.run("fs", "exists", f"{remote_tmp}/empty")) == "true\n"
    assert ok(cli.run("fs", "read", f"{remote_tmp}/empty")) == ""
    local = tmp_path / "existing"
    local.write_text("old content that is longer")
    local.chmod(0o640)
    ok(cli.run("copy", f":{remote_tmp}/empty", str(local)))
    assert local.read_bytes() == b""
    assert local.stat().st_mode & 0o777 == 0o640  # an existing file keeps its mode


@pytest.mark.slow
def test_large_file_streams_with_constant_memory(
    cli: CliSession, remote_tmp: str, tmp_path: Path
) -> None:
    """64 MiB both ways through the range extension; the client's peak RSS stays far below
    the file size (a whole-file transfer would hold it at least twice)."""
    src = random_file(tmp_path / "big.bin", 64 * MIB)
    remote = f"{remote_tmp}/big.bin"
    back = tmp_path / "back.bin"
    measure = (
        "import resource, subprocess, sys, json\n"
        "done = subprocess.run(json.loads(sys.argv[1]), capture_output=True)\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "print(json.dumps([done.returncode, done.stdout.decode(), done.stderr.decode(), peak]))\n"
    )
    for args in (["copy", str(src), f":{remote}"], ["copy", f":{remote}", str(back)]):
        out = subprocess.run(
            [sys.executable, "-c", measure, json.dumps([*DISTANT, *args])],
            capture_output=True,
            text=True,
            env=cli.cli.env(),
            timeout=300,
            check=True,
        )
        code, stdout, stderr, peak_kib = json.loads(out.stdout)
        assert (code, stdout, stderr) == (0, "", ""), args
        assert peak_kib < 80 * 1024, f"peak RSS {peak_kib} KiB for {args}"
    assert remote_sha256(cli, remote) == sha256(src)
    assert sha256(back) == sha256(src)


def test_recursive_both_directions(cli: CliSession, remote_tmp: str, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "a" / "b").mkdir(parents=True)
    (tree / "empty").mkdir()
    (tree / "one.txt").write_text("1")
    (tree / "a" / "two.txt").write_text("2")
    random_file(tree / "a" / "b" / "three.bin", 5 * MIB + 7)

    refused = cli.run("copy", str(tree), f":{remote_tmp}")
    assert_one_line_error(refused, "is a directory (use -r to copy recursively)")

    ok(cli.run("copy", "-r", str(tree), f":{remote_tmp}"))  # an existing dir: goes inside
    listing = ok(cli.run("fs", "read", "--depth", "0", f"{remote_tmp}/tree")).splitlines()
    assert sorted(line.split()[-1] for line in listing) == [
        "a", "a/b", "a/b/three.bin", "a/two.txt", "empty", "one.txt",
    ]  # fmt: skip
    assert remote_sha256(cli, f"{remote_tmp}/tree/a/b/three.bin") == sha256(
        tree / "a" / "b" / "three.bin"
    )

    refused = cli.run("copy", f":{remote_tmp}/tree", str(tmp_path / "x"))
    assert_one_line_error(refused, "is a directory (use -r to copy recursively)")

    ok(cli.run("copy", "--recursive", f":{remote_tmp}/tree", str(tmp_path / "copy")))
    for path in tree.rglob("*"):
        twin = tmp_path / "copy" / path.relative_to(tree)
        assert twin.is_dir() == path.is_dir(), twin
        if path.is_file():
            assert sha256(twin) == sha256(path)
    assert sorted(
        str(p.relative_to(tmp_path / "copy")) for p in (tmp_path / "copy").rglob("*")
    ) == (sorted(str(p.relative_to(tree)) for p in tree.rglob("*")))


def test_errors(cli: CliSession, remote_tmp: str, tmp_path: Path) -> None:
    missing = cli.run("copy", f":{remote_tmp}/missing", str(tmp_path / "x"))
    assert_one_line_error(missing, "No such file or directory", f"{remote_tmp}/missing")
    assert not (tmp_path / "x").exists()
    ok(cli.run("fs", "write", f"{remote_tmp}/present", "data"))
    no_parent = cli.run("copy", f":{remote_tmp}/present", str(tmp_path / "no" / "such" / "f"))
    assert_one_line_error(no_parent, "No such file or directory", str(tmp_path / "no"))
    assert not (tmp_path / "no").exists()

    local_missing = cli.run("copy", str(tmp_path / "nope"), f":{remote_tmp}/x")
    assert_one_line_error(local_missing, "No such file or directory")
    assert_one_line_error(cli.run("copy", "a", "b"), "Both paths are local")
    assert_one_line_error(cli.run("copy", ":a", ":b"), "Both paths are remote")
    src = tmp_path / "f"
    src.write_text("x")
    no_dir = cli.run("copy", str(src), f":{remote_tmp}/no/such/dir/f")
    assert_one_line_error(no_dir, "No such file or directory")
    assert sorted(os.listdir(tmp_path)) == ["f"]


def test_whole_file_fallback(
    cli: CliSession, remote_tmp: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server without ``fs_range`` (a Rust one) gets whole-file reads and writes; files
    too big for one frame go up as write + appends and come down through ``cat``."""
    from distant_cli.commands import copy as copy_mod
    from distant_cli.session import Globals

    monkeypatch.setattr(copy_mod, "USE_RANGES", False)
    monkeypatch.setattr(copy_mod, "WHOLE_FILE_LIMIT", 1024 * 1024)  # as if 3 MiB were big
    g = Globals(unix_socket=str(cli.socket), cache=str(cli.cache), quiet=True)
    for name, size in (("small.bin", 1000), ("big.bin", 3 * MIB + 1), ("exact.bin", 2 * MIB)):
        src = random_file(tmp_path / name, size)
        assert copy_mod.copy(g, cli.connection, str(src), f":{remote_tmp}/{name}") == 0
        assert remote_sha256(cli, f"{remote_tmp}/{name}") == sha256(src)
        back = tmp_path / f"back-{name}"
        assert copy_mod.copy(g, cli.connection, f":{remote_tmp}/{name}", str(back)) == 0
        assert sha256(back) == sha256(src)
    listing = ok(cli.run("fs", "read", remote_tmp)).split()
    assert sorted(listing) == ["big.bin", "exact.bin", "small.bin"]  # no temporary left
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "f").write_text("f")
    random_file(tree / "sub" / "large", 2 * MIB + 3)
    assert copy_mod.copy(g, cli.connection, str(tree), f":{remote_tmp}/t", recursive=True) == 0
    assert copy_mod.copy(g, cli.connection, f":{remote_tmp}/t", str(tmp_path / "t2"), True) == 0
    assert (tmp_path / "t2" / "sub" / "f").read_text() == "f"
    assert sha256(tmp_path / "t2" / "sub" / "large") == sha256(tree / "sub" / "large")
    with pytest.raises(CliError, match="No such file or directory"):
        copy_mod.copy(g, cli.connection, f":{remote_tmp}/missing", str(tmp_path / "m"))


def test_progress_only_on_a_terminal(cli: CliSession, remote_tmp: str, tmp_path: Path) -> None:
    src = random_file(tmp_path / "p.bin", 3 * MIB)
    result = cli.run_pty(["copy", str(src), f":{remote_tmp}/p.bin"])
    assert result.returncode == 0
    assert b"Uploaded p.bin (3.0 MB)\r\n" in result.output
    result = cli.run_pty(["copy", f":{remote_tmp}/p.bin", str(tmp_path / "q.bin")])
    assert result.returncode == 0
    assert b"Downloaded p.bin (3.0 MB)\r\n" in result.output
    quiet = cli.run_pty(["-q", "copy", str(src), f":{remote_tmp}/p.bin"])
    assert (quiet.returncode, quiet.output) == (0, b"")
