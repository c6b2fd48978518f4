"""``system_info`` of the host Api, through the real dispatcher over a loopback connection."""

from __future__ import annotations

import os
import pwd
import sys

import pytest

from distant_codec import SystemInfo
from distant_codec import requests as rq
from distant_server.host.system import SystemOps, rust_arch, rust_os

from .harness import api_client, one

pytestmark = pytest.mark.anyio


def is_dir(path: str) -> bool:
    return os.path.isdir(path)


@pytest.mark.skipif(sys.platform != "linux", reason="the values checked are Linux's")
async def test_system_info_describes_this_host() -> None:
    async with api_client(SystemOps()) as client:
        info = await one(client, rq.SystemInfo())
    assert isinstance(info, SystemInfo)
    assert info.family == "unix"
    assert info.os == "linux"
    assert info.arch == rust_arch()
    assert info.arch in {"x86_64", "aarch64", "arm", "x86", "riscv64", "powerpc64", "s390x"}
    assert info.main_separator == "/"
    assert info.current_dir == os.getcwd()
    assert is_dir(info.current_dir)
    assert info.username == pwd.getpwuid(os.geteuid()).pw_name
    assert info.shell == (os.environ.get("SHELL") or pwd.getpwuid(os.geteuid()).pw_shell)


async def test_current_dir_is_read_at_call_time(
    tmp_path: os.PathLike[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async with api_client(SystemOps()) as client:
        monkeypatch.chdir(tmp_path)
        info = await one(client, rq.SystemInfo())
    assert info.current_dir == os.fspath(tmp_path)


async def test_current_dir_given_to_the_constructor(tmp_path: os.PathLike[str]) -> None:
    async with api_client(SystemOps(current_dir=tmp_path)) as client:
        info = await one(client, rq.SystemInfo())
    assert info.current_dir == os.fspath(tmp_path)


async def test_shell_falls_back_to_the_login_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHELL", raising=False)
    async with api_client(SystemOps()) as client:
        info = await one(client, rq.SystemInfo())
    assert info.shell == (pwd.getpwuid(os.geteuid()).pw_shell or "/bin/sh")


def test_rust_names() -> None:
    assert [rust_arch(m) for m in ("x86_64", "AMD64", "i686", "aarch64", "arm64", "armv7l")] == [
        "x86_64", "x86_64", "x86", "aarch64", "aarch64", "arm"
    ]  # fmt: skip
    assert [rust_arch(m) for m in ("ppc64le", "s390x", "riscv64", "mips64el")] == [
        "powerpc64", "s390x", "riscv64", "mips64"
    ]  # fmt: skip
    assert [rust_os(p) for p in ("linux", "darwin", "win32", "freebsd14", "sunos5")] == [
        "linux", "macos", "windows", "freebsd", "solaris"
    ]  # fmt: skip
