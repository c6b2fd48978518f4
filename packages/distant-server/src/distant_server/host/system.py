"""``system_info`` on this host, with the values Rust's ``std::env::consts`` would give.

Upstream's host answers ``family``/``os``/``arch`` from ``std::env::consts``,
``current_dir`` from the process's working directory (empty when it cannot be read),
``main_separator`` from ``std::path::MAIN_SEPARATOR``, ``username`` from ``whoami`` and
``shell`` from ``$SHELL`` (``/bin/sh`` when unset). We do the same, with the login shell of
the password database between ``$SHELL`` and ``/bin/sh``.
"""

from __future__ import annotations

import os
import platform
import sys
from typing import ClassVar

from distant_codec import SystemInfo
from distant_codec import requests as rq
from distant_server.api import Api
from distant_server.context import ApiContext

__all__ = ["SystemOps", "rust_arch", "rust_family", "rust_os", "system_info"]

_ARCH = {
    "x86_64": "x86_64",
    "amd64": "x86_64",
    "x64": "x86_64",
    "i386": "x86",
    "i486": "x86",
    "i586": "x86",
    "i686": "x86",
    "x86": "x86",
    "aarch64": "aarch64",
    "aarch64_be": "aarch64",
    "arm64": "aarch64",
    "armv8b": "aarch64",
    "armv8l": "arm",
    "ppc": "powerpc",
    "powerpc": "powerpc",
    "ppc64": "powerpc64",
    "ppc64le": "powerpc64",
    "s390x": "s390x",
    "riscv32": "riscv32",
    "riscv64": "riscv64",
    "mips": "mips",
    "mipsel": "mips",
    "mips64": "mips64",
    "mips64el": "mips64",
    "loongarch64": "loongarch64",
    "sparc64": "sparc64",
    "sun4u": "sparc64",
    "sun4v": "sparc64",
    "wasm32": "wasm32",
}

_OS_PREFIXES = (
    ("linux", "linux"),
    ("darwin", "macos"),
    ("win32", "windows"),
    ("cygwin", "windows"),
    ("msys", "windows"),
    ("freebsd", "freebsd"),
    ("openbsd", "openbsd"),
    ("netbsd", "netbsd"),
    ("dragonfly", "dragonfly"),
    ("sunos", "solaris"),
    ("aix", "aix"),
    ("emscripten", "emscripten"),
    ("wasi", "wasi"),
    ("android", "android"),
    ("ios", "ios"),
)


def rust_arch(machine: str | None = None) -> str:
    """``std::env::consts::ARCH`` for ``platform.machine()`` (x86_64, aarch64, arm, ...)."""
    name = (machine if machine is not None else platform.machine()).strip().lower()
    if name in _ARCH:
        return _ARCH[name]
    if name.startswith("arm"):
        return "arm"
    return name or "unknown"


def rust_os(platform_name: str | None = None) -> str:
    """``std::env::consts::OS`` (linux, macos, windows, freebsd, android, ...)."""
    name = platform_name if platform_name is not None else sys.platform
    if name.startswith("linux") and hasattr(sys, "getandroidapilevel"):
        return "android"
    for prefix, rust in _OS_PREFIXES:
        if name.startswith(prefix):
            return rust
    return name.rstrip("0123456789") or "unknown"


def rust_family() -> str:
    """``std::env::consts::FAMILY``: ``windows`` or ``unix``."""
    return "windows" if os.name == "nt" else "unix"


def _username() -> str:
    """The effective user's name, else its id."""
    if os.name == "nt":  # pragma: no cover - the server targets Unix hosts
        return os.environ.get("USERNAME", "")
    uid = os.geteuid()
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return str(uid)


def _shell() -> str:
    """The user's shell: ``$SHELL``, else the login shell, else ``/bin/sh``."""
    if os.name == "nt":  # pragma: no cover - the server targets Unix hosts
        return os.environ.get("COMSPEC") or "cmd.exe"
    shell = os.environ.get("SHELL")
    if shell:
        return shell
    try:
        import pwd

        shell = pwd.getpwuid(os.geteuid()).pw_shell
    except (ImportError, KeyError):
        shell = ""
    return shell or "/bin/sh"


def _cwd() -> str:
    try:
        return os.getcwd()
    except OSError:  # deleted working directory: upstream sends an empty path
        return ""


def system_info(current_dir: str | None = None) -> SystemInfo:
    """This host's ``SystemInfo``; ``current_dir`` defaults to the working directory now."""
    return SystemInfo(
        family=rust_family(),
        os=rust_os(),
        arch=rust_arch(),
        current_dir=current_dir if current_dir is not None else _cwd(),
        main_separator=os.sep,
        username=_username(),
        shell=_shell(),
    )


class SystemOps(Api):
    """``system_info`` on this host.

    ``current_dir`` is what ``system_info`` reports as the server's directory (the
    ``--current-dir`` of ``distant-server listen``); by default the process's working
    directory at the time of the request. It is also a class attribute, so a composed Api
    need not call this ``__init__``.
    """

    SYSTEM_CAPABILITIES: ClassVar[tuple[str, ...]] = ("sys_info",)
    current_dir: str | None = None

    def __init__(self, *, current_dir: str | os.PathLike[str] | None = None) -> None:
        self.current_dir = os.path.abspath(current_dir) if current_dir is not None else None

    def capabilities(self) -> tuple[str, ...]:
        return self.SYSTEM_CAPABILITIES

    async def system_info(self, ctx: ApiContext, req: rq.SystemInfo) -> SystemInfo:
        return system_info(self.current_dir)
