"""A Docker engine and a busybox image for the docker tests, without any registry.

* :func:`docker_host` answers the ``DOCKER_HOST`` to use: the environment's when it answers,
  else (as root, with ``/usr/sbin/dockerd``) a private ``dockerd --iptables=false
  --bridge=none`` under a temporary data-root, started once per process and killed by its
  PID at exit. Otherwise it raises :class:`DockerUnavailable` with an install hint (the
  fixtures skip on it unless ``DISTANT_REQUIRE_DOCKER=1``).
* :func:`ensure_busybox_image` builds ``distant-test/busybox:latest`` with ``docker import``
  of a busybox rootfs (``bin/busybox`` plus one symlink per applet), once.
* :func:`ensure_shell_less_image` builds ``distant-test/noshell:latest``: only ``/sleep`` (a
  copy of busybox, which dispatches on its name) and a data file ``/data/hello.txt``.
* ``with RunningContainer(host, image) as c:`` runs ``sleep 2147483647`` in a new container
  on the host network (``c.name``, ``c.id``) and removes it (``rm -f``) at exit.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import os
import secrets
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path
from types import TracebackType

__all__ = [
    "DockerUnavailable",
    "docker_host",
    "docker_cli",
    "ensure_busybox_image",
    "ensure_shell_less_image",
    "RunningContainer",
    "BUSYBOX_IMAGE",
    "NOSHELL_IMAGE",
    "NOSHELL_DATA",
]

DOCKERD = "/usr/sbin/dockerd"
BUSYBOX = "/usr/bin/busybox"
BUSYBOX_IMAGE = "distant-test/busybox:latest"
NOSHELL_IMAGE = "distant-test/noshell:latest"
NOSHELL_DATA = b"hello from a container without a shell\n"
_HINT = (
    "docker tests need a Docker engine: set DOCKER_HOST, or as root "
    "apt-get install docker.io busybox-static (for /usr/sbin/dockerd and /usr/bin/busybox)"
)

_private: dict[str, str] = {}
"""The private dockerd's host, once started (one per test process)."""


class DockerUnavailable(RuntimeError):
    """No Docker engine can be used here."""


def docker_cli() -> str:
    for candidate in ("/usr/local/bin/docker", "/usr/bin/docker"):
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("docker")
    if found is None:
        raise DockerUnavailable(f"no docker CLI; {_HINT}")
    return found


def _docker(host: str, *args: str, input: bytes | None = None, check: bool = True) -> bytes:
    env = {**os.environ, "DOCKER_HOST": host}
    done = subprocess.run(
        [docker_cli(), *args], input=input, capture_output=True, env=env, timeout=120, check=False
    )
    if check and done.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)}: {done.stderr.decode(errors='replace')}")
    return done.stdout


def _answers(host: str) -> bool:
    try:
        _docker(host, "version", "--format", "{{.Server.Version}}")
    except (RuntimeError, OSError, subprocess.TimeoutExpired):
        return False
    return True


def _unmount_under(root: Path) -> None:
    try:
        mounts = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return
    points = [line.split()[1] for line in mounts if len(line.split()) > 1]
    for point in sorted((p for p in points if p.startswith(f"{root}/")), reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)


def _start_private() -> str:
    root = Path(tempfile.mkdtemp(prefix="distant-dockerd-"))
    sock = root / "docker.sock"
    host = f"unix://{sock}"
    log = open(root / "dockerd.log", "wb")  # noqa: SIM115 - lives as long as dockerd
    proc = subprocess.Popen(
        [
            DOCKERD,
            "--iptables=false",
            "--bridge=none",
            "--data-root",
            str(root / "data"),
            "--exec-root",
            str(root / "exec"),
            "--pidfile",
            str(root / "docker.pid"),
            "-H",
            host,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )

    def stop() -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()
        _unmount_under(root)  # dockerd leaves its netns bind mount behind
        shutil.rmtree(root, ignore_errors=True)

    atexit.register(stop)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise DockerUnavailable(f"dockerd exited: see {root / 'dockerd.log'}")
        if sock.exists() and _answers(host):
            return host
        time.sleep(0.1)
    raise DockerUnavailable("dockerd did not answer within 30 s")


def docker_host() -> str:
    """The ``DOCKER_HOST`` of a working engine (see the module docstring)."""
    env_host = os.environ.get("DOCKER_HOST")
    if env_host and _answers(env_host):
        return env_host
    if "host" in _private:
        return _private["host"]
    if os.geteuid() != 0 or not os.access(DOCKERD, os.X_OK):
        raise DockerUnavailable(_HINT)
    docker_cli()
    _private["host"] = _start_private()
    return _private["host"]


def _has_image(host: str, image: str) -> bool:
    return bool(_docker(host, "images", "-q", image).strip())


def _import(host: str, image: str, rootfs: bytes) -> None:
    _docker(
        host,
        "import",
        "--change",
        "ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin",
        "--change",
        'CMD ["sh"]',
        "-",
        image,
        input=rootfs,
    )


def _add(tar: tarfile.TarFile, name: str, *, data: bytes | None = None, mode: int = 0o755,
         link: str | None = None, kind: bytes = tarfile.DIRTYPE) -> None:  # fmt: skip
    info = tarfile.TarInfo(name)
    info.mode = mode
    info.mtime = int(time.time())
    if link is not None:
        info.type = tarfile.SYMTYPE
        info.linkname = link
    elif data is not None:
        info.type = tarfile.REGTYPE
        info.size = len(data)
    else:
        info.type = kind
    tar.addfile(info, io.BytesIO(data) if data is not None else None)


def ensure_busybox_image(host: str) -> str:
    """Build :data:`BUSYBOX_IMAGE` if missing; return its name."""
    if _has_image(host, BUSYBOX_IMAGE):
        return BUSYBOX_IMAGE
    if not os.access(BUSYBOX, os.R_OK):
        raise DockerUnavailable(f"no {BUSYBOX}; {_HINT}")
    applets = subprocess.run([BUSYBOX, "--list"], capture_output=True, check=True).stdout
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for directory in ("bin", "etc", "tmp", "root"):
            _add(tar, directory, mode=0o1777 if directory == "tmp" else 0o755)
        _add(tar, "bin/busybox", data=Path(BUSYBOX).read_bytes())
        for name in applets.decode().split():
            if name != "busybox":
                _add(tar, f"bin/{name}", link="/bin/busybox")
        _add(tar, "etc/passwd", data=b"root:x:0:0:root:/root:/bin/sh\n", mode=0o644)
    _import(host, BUSYBOX_IMAGE, buf.getvalue())
    return BUSYBOX_IMAGE


def ensure_shell_less_image(host: str) -> str:
    """Build :data:`NOSHELL_IMAGE` if missing; return its name."""
    if _has_image(host, NOSHELL_IMAGE):
        return NOSHELL_IMAGE
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        _add(tar, "sleep", data=Path(BUSYBOX).read_bytes())
        _add(tar, "data")
        _add(tar, "data/hello.txt", data=NOSHELL_DATA, mode=0o644)
        _add(tar, "tmp", mode=0o1777)
    _import(host, NOSHELL_IMAGE, buf.getvalue())
    return NOSHELL_IMAGE


class RunningContainer:
    """A container running ``sleep`` on the host network, removed at exit."""

    def __init__(self, host: str, image: str, *, command: list[str] | None = None) -> None:
        self.host = host
        self.image = image
        self.command = command or ["sleep", "2147483647"]
        self.name = f"distant-test-{secrets.token_hex(4)}"
        self.id = ""

    def __enter__(self) -> RunningContainer:
        out = _docker(
            self.host, "run", "-d", "--network", "host", "--name", self.name, self.image,
            *self.command,
        )  # fmt: skip
        self.id = out.decode().strip()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with contextlib.suppress(Exception):
            _docker(self.host, "rm", "-f", self.name, check=False)
