"""ssh backend benchmark (issue: distant-plugins): reading a 256 MiB file.

Ours: the ``ssh`` plugin's Api (``SshApi``) over one SSH connection, served in-process
exactly as the manager serves it (``distant_plugins.in_process.serve_api``), driven the way
``distant copy`` drives it: ``file_read_range`` requests of 2 MiB, ``IN_FLIGHT`` at a time,
each chunk written to a local file. Run on trio (asyncssh through trio-asyncio, as in the
manager) for the ``asyncssh`` backend, and for the ``openssh`` backend (the system ``ssh``
through a ControlMaster, our own SFTP client).

Anchor: asyncssh's own ``sftp.get`` of the same file to a local file, on asyncio, against the
same private ``sshd`` (``tests/support/sshd.py``, a throwaway account with ``/bin/sh``), in
the same run, with asyncssh's defaults (chacha20-poly1305 first). The contenders take turns,
``ROUNDS`` times, each round in a rotated order (so none always runs right after the file was
written or after the same neighbour); the table shows medians. Target: at least 1.0x the
anchor's throughput.

Fairness: every contender first reads one chunk on its connection before the clock starts
(one-time costs such as lazy imports and first-use compilation are not throughput). The
asyncssh backend prefers AES-GCM over asyncssh's default chacha20 (see
``asyncssh_backend._cipher_preference``), so an informational row also gives ``sftp.get``
with that same cipher preference: the ratio against it is what the rest of the path costs.
``serve_api`` raises glibc malloc's mmap/trim thresholds for the process (see
``distant_plugins.in_process``); the anchors run in the same process, after the first
contender has done so, and have it too.

``BENCH_SSH_MIB`` changes the file size, ``BENCH_SSH_ROUNDS`` the number of rounds.
"""

from __future__ import annotations

import collections
import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ._report import header, row
from .bench_server import private_sshd  # the same throwaway account and sshd

ROOT = Path(__file__).resolve().parent.parent

MIB = 1024 * 1024
SIZE = int(os.environ.get("BENCH_SSH_MIB", "256")) * MIB
ROUNDS = int(os.environ.get("BENCH_SSH_ROUNDS", "3"))
CHUNK = 2 * MIB
IN_FLIGHT = 6
TARGET = 1.0  # ours / sftp.get throughput, at least


@contextlib.contextmanager
def source_file() -> Iterator[str]:
    """A world-readable file of SIZE random bytes (the bench user reads it over ssh)."""
    with tempfile.TemporaryDirectory(prefix="distant-bench-ssh-") as tmp:
        os.chmod(tmp, 0o755)
        path = os.path.join(tmp, "source.bin")
        with open(path, "wb") as f:
            for _ in range(SIZE // MIB):
                f.write(os.urandom(MIB))
        os.chmod(path, 0o644)
        yield path


class _NoPrompts:
    """The benchmark logs in with a key: any prompt is an error."""

    async def on_initialization(self, msg: Any) -> Any:
        raise RuntimeError(f"unexpected auth initialization: {msg}")

    async def on_challenge(self, msg: Any) -> Any:
        raise RuntimeError(f"unexpected auth challenge: {msg}")

    async def on_verification(self, msg: Any) -> Any:
        raise RuntimeError(f"unexpected verification: {msg}")

    async def on_info(self, msg: Any) -> None:
        pass

    async def on_error(self, msg: Any) -> None:
        pass

    async def on_start_method(self, msg: Any) -> None:
        pass

    async def on_finished(self) -> None:
        pass


async def _read_through_link(link: Any, remote: str, local: str, size: int = SIZE) -> None:
    """``file_read_range`` in CHUNK pieces, IN_FLIGHT requests outstanding, into ``local``."""
    import anyio

    from distant_codec import MSG_EXTENDED_REQUEST, MSG_EXTENDED_RESPONSE, Msg, Request, Response
    from distant_codec.extensions import FileChunk, FileReadRange

    offsets = iter(range(0, size, CHUNK))
    pending: dict[str, int] = {}
    done = 0
    # Plain blocking writes, as sftp.get does: the disk is not what is measured.
    with open(local, "wb") as out:  # noqa: ASYNC230

        async def send_next() -> None:
            offset = next(offsets, None)
            if offset is None:
                return
            request = Request(Msg.single(FileReadRange(remote, offset, CHUNK)))
            pending[request.id] = offset
            await link.send(request.to_bytes(MSG_EXTENDED_REQUEST))

        for _ in range(IN_FLIGHT):
            await send_next()
        with anyio.fail_after(600):
            async for item in link:
                response = Response.from_bytes(item, MSG_EXTENDED_RESPONSE)
                offset = pending.pop(response.origin_id)
                chunk = response.payload.items[0]
                if not isinstance(chunk, FileChunk):
                    raise RuntimeError(f"file_read_range failed: {chunk}")
                out.seek(offset)
                out.write(chunk.data)
                done += len(chunk.data)
                if done >= size:
                    break
                await send_next()


async def ours(backend: str, sshd: Any, remote: str, local: str) -> float:
    """Seconds to read ``remote`` through the ssh plugin's Api (connection set up first)."""
    from distant_plugins.in_process import serve_api
    from distant_plugins.ssh.api import SshApi
    from distant_plugins.ssh.bridge import asyncio_loop
    from distant_plugins.ssh.session import SshTarget

    if backend == "openssh":
        from distant_plugins.ssh.openssh_backend import open_openssh_session as opener
    else:
        from distant_plugins.ssh.asyncssh_backend import open_asyncssh_session as opener
    target = SshTarget(
        host=sshd.host,
        port=sshd.port,
        user=sshd.user,
        identity_files=(str(sshd.client_key),),
        identities_only=True,
        user_known_hosts_files=(str(sshd.known_hosts),),
    )
    async with asyncio_loop():
        session = await opener(target, _NoPrompts())
        try:
            async with serve_api(SshApi(session)) as link:
                await _read_through_link(link, remote, local, CHUNK)  # warm-up, untimed
                started, cpu = time.perf_counter(), time.process_time()
                await _read_through_link(link, remote, local)
                CPU[backend].append(time.process_time() - cpu)
                return time.perf_counter() - started
        finally:
            await session.aclose()


async def anchor(sshd: Any, remote: str, local: str, same_cipher: bool = False) -> float:
    import asyncssh

    options = sshd.asyncssh_options()
    if same_cipher:
        from distant_plugins.ssh.asyncssh_backend import _cipher_preference

        options["encryption_algs"] = _cipher_preference()
    async with asyncssh.connect(**options) as conn, conn.start_sftp_client() as sftp:
        CIPHERS["anchor-same-cipher" if same_cipher else "anchor"] = str(
            conn.get_extra_info("send_cipher")
        )
        async with sftp.open(remote, "rb") as f:  # warm-up, untimed
            await f.read(CHUNK)
        started, cpu = time.perf_counter(), time.process_time()
        await sftp.get(remote, local)
        CPU["anchor-same-cipher" if same_cipher else "anchor"].append(time.process_time() - cpu)
        return time.perf_counter() - started


CIPHERS: dict[str, str] = {}
CPU: dict[str, list[float]] = collections.defaultdict(list)
"""This process's CPU seconds per timed read (ours includes the server side of the link)."""


def _check(local: str, remote: str) -> None:
    if os.path.getsize(local) != SIZE:
        raise RuntimeError(f"{local}: {os.path.getsize(local)} bytes, expected {SIZE}")
    with open(local, "rb") as a, open(remote, "rb") as b:
        if a.read(MIB) != b.read(MIB):
            raise RuntimeError("the copy differs from the source")
    os.unlink(local)


def main() -> dict[str, Any]:
    import anyio

    t_start = time.monotonic()
    contenders: dict[str, Callable[[Any, str, str], float]] = {
        "asyncssh": lambda *a: anyio.run(ours, "asyncssh", *a, backend="trio"),
        "openssh": lambda *a: anyio.run(ours, "openssh", *a, backend="trio"),
        "anchor": lambda *a: anyio.run(anchor, *a, backend="asyncio"),
        "anchor-same-cipher": lambda *a: anyio.run(anchor, *a, True, backend="asyncio"),
    }
    names = list(contenders)
    results: dict[str, list[float]] = {name: [] for name in names}
    with source_file() as remote, private_sshd() as sshd, tempfile.TemporaryDirectory() as tmp:
        local = os.path.join(tmp, "copy.bin")
        for round_ in range(ROUNDS):
            shift = round_ % len(names)
            for name in names[shift:] + names[:shift]:
                results[name].append(contenders[name](sshd, remote, local))
                _check(local, remote)

    mib = SIZE / MIB
    rate = {k: mib / statistics.median(v) for k, v in results.items()}
    print(header(f"ssh backend: read {mib:.0f} MiB (file_read_range {CHUNK // MIB} MiB x "
                 f"{IN_FLIGHT}) vs asyncssh sftp.get", "distant", "asyncssh sftp"))  # fmt: skip
    for backend in ("asyncssh", "openssh"):
        ratio = rate[backend] / rate["anchor"]
        print(row(f"{backend} backend: MiB/s (median)", f"{rate[backend]:.0f} MiB/s",
                  f"{rate['anchor']:.0f} MiB/s", ratio, target=f">= {TARGET}x",
                  ok=ratio >= TARGET))  # fmt: skip
    same = rate["anchor-same-cipher"]
    print(row("  info: asyncssh backend vs sftp.get, same cipher", f"{rate['asyncssh']:.0f} MiB/s",
              f"{same:.0f} MiB/s", rate["asyncssh"] / same))  # fmt: skip
    print("  ciphers: " + ", ".join(f"{k} {v}" for k, v in CIPHERS.items())
          + "; asyncssh backend " + CIPHERS.get("anchor-same-cipher", "?"))  # fmt: skip
    cpu = ", ".join(f"{k} {statistics.median(v) * 1000 / mib:.2f}" for k, v in CPU.items())
    print(f"  client-process CPU, ms per MiB (median): {cpu}")
    samples = ", ".join(f"{k} " + "/".join(f"{mib / s:.0f}" for s in v) for k, v in results.items())
    print(f"  MiB/s per round: {samples}; {ROUNDS} alternating rounds, "
          f"total {time.monotonic() - t_start:.0f} s on {os.cpu_count()} CPUs")  # fmt: skip
    return {"rates": rate, "samples": results}


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
