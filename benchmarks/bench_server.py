"""Server benchmark (issue: the distant server and its host API).

Our server is ``distant_server.make_server(HostApi(), key)`` on the trio backend, in its own
process (``python -m benchmarks._server_peer serve``; the static key goes on stdin, never
argv). Our clients are real distant clients (``distant_net.open_connection`` + ``Client``,
encrypted with the cipher the default negotiation picks) in other processes. The anchor is
OpenSSH: a private ``sshd`` on 127.0.0.1 (``tests/support/sshd.py``), logged into as a
throwaway account whose shell is ``/bin/sh`` with an empty home (so no shell start-up file
runs), driven by ``asyncssh`` on the same machine in the same run.

* **metadata round trip** on an open connection: median of ``client.request(metadata)``.
  Anchor: asyncssh ``sftp.stat`` of the same file through sshd's ``internal-sftp``.
  Target: at most 0.5x the anchor.
* **process round trip**: ``proc_spawn`` of ``true`` until its ``proc_done`` arrives, on an
  open connection. Anchor: asyncssh ``conn.run("true")`` (a session channel, ``exec``, exit
  status) on an open connection. Target: at most 1.0x the anchor.
  The contenders take turns, in blocks, each block on a fresh connection; the medians are over
  every sample of every block.
* **load**: 64 concurrent clients (64 connections, each a closed loop with one request in
  flight) x 1000 ``metadata`` requests against one server process. The clients live in
  ``LOAD_PROCESSES`` load-generator process(es) on trio, all released at once after every
  connection is up. With 2 cores the server gets one and the generator the other, so the
  generator must cost the server's core nothing and be cheaper per request than the server:
  by default each connection is bootstrapped by distant-net's own ``client_connect`` (the
  server sees an ordinary client), its 1000 requests are sealed in advance, and each reply
  is read straight off the socket, decrypted and decoded as a typed response
  (``BENCH_SERVER_LOAD_CLIENT=full`` uses the product's ``open_connection`` + ``Client``
  instead, which costs the generator about as much as the server). Reported: requests per
  second over the whole run (first start to last finish), the p99 of the per-request
  latencies the clients saw, and the CPU share the server and the generator used (so a
  starved or saturated generator shows). Target: at least 10k req/s and p99 at most 20 ms,
  with no errors.

``BENCH_SERVER_PROFILE=<dir>`` runs the server under cProfile and writes ``server.prof``
there (the figures are then not representative). ``BENCH_SERVER_STUB=1`` serves a minimal
stub Api instead of ``HostApi`` (to develop the benchmark; the table says so).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ._report import header, row

ROOT = Path(__file__).resolve().parent.parent

BENCH_USER = "distant-bench"
BLOCKS = 3  # each contender runs this many blocks, taking turns, each on a fresh connection
RTT_SAMPLES = 1000  # per block
RTT_WARMUP = 200  # per block
SPAWN_SAMPLES = 60  # per block
SPAWN_WARMUP = 5  # per block
LOAD_CLIENTS = 64
LOAD_REQUESTS = 1000  # per client
LOAD_PROCESSES = 1
LOAD_CLIENT = os.environ.get("BENCH_SERVER_LOAD_CLIENT", "lean")  # or "full"
TARGET_RTT = 0.5  # ours / sftp.stat, at most
TARGET_SPAWN = 1.0  # ours / conn.run("true"), at most
TARGET_RPS = 10_000.0  # at least
TARGET_P99 = 0.020  # seconds, at most
READY_TIMEOUT = 60.0

_PROFILE_DIR = os.environ.get("BENCH_SERVER_PROFILE") or None
_STUB = os.environ.get("BENCH_SERVER_STUB") == "1"


# -- processes -------------------------------------------------------------------------------


class Child:
    """A ``benchmarks._server_peer`` process, given the key on stdin and stopped by PID."""

    def __init__(self, args: list[str], key_hex: str) -> None:
        env = dict(os.environ)
        if args[0] != "serve":
            env.pop("BENCH_SERVER_PROFILE", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks._server_peer", *args],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.send_line(key_hex)

    def send_line(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def read_line(self, prefix: str, timeout: float = READY_TIMEOUT) -> str:
        """The next line of output starting with ``prefix`` (others are skipped)."""
        stdout = self.proc.stdout
        assert stdout is not None
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {prefix!r} line from {self.proc.args!r} in {timeout:g} s")
            readable, _, _ = select.select([stdout], [], [], left)
            if not readable:
                continue
            line = stdout.readline()
            if not line:
                raise RuntimeError(f"{self.proc.args!r} exited with {self.proc.wait()}")
            if line.startswith(prefix):
                return line.rstrip("\n")

    def stop(self) -> None:
        """SIGINT (a clean stop, so a profile gets written), then SIGKILL if need be."""
        proc = self.proc
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()


@contextlib.contextmanager
def child(args: list[str], key_hex: str) -> Iterator[Child]:
    c = Child(args, key_hex)
    try:
        yield c
    finally:
        c.stop()


@contextlib.contextmanager
def our_server(key_hex: str) -> Iterator[tuple[int, str, int]]:
    """Our server process: yields its port, the name of the Api it serves, and its PID."""
    args = ["serve", "--stub"] if _STUB else ["serve"]
    with child(args, key_hex) as server:
        _, port, api = server.read_line("READY ").split()
        yield int(port), api, server.proc.pid


@contextlib.contextmanager
def private_sshd() -> Iterator[Any]:
    sys.path.insert(0, str(ROOT))
    from tests.support.sshd import PrivateSshd, ensure_user

    with PrivateSshd(user=ensure_user(BENCH_USER)) as sshd:
        yield sshd


@contextlib.contextmanager
def target_file() -> Iterator[str]:
    """A small file both servers can stat (world-readable, in a world-readable directory)."""
    with tempfile.TemporaryDirectory(prefix="distant-bench-") as tmp:
        os.chmod(tmp, 0o755)
        path = os.path.join(tmp, "target.txt")
        with open(path, "w") as f:
            f.write("distant benchmark\n" * 64)
        os.chmod(path, 0o644)
        yield path


# -- ours: a distant client in this process --------------------------------------------------


@contextlib.asynccontextmanager
async def our_client(port: int, key_hex: str) -> Any:
    from distant_auth import SecretKey, StaticKeyHandler
    from distant_codec import MSG_EXTENDED_REQUEST, MSG_EXTENDED_RESPONSE
    from distant_net import Client, SyncHandlerAdapter, connect_tcp, open_connection

    async def dial() -> Any:
        return await connect_tcp("127.0.0.1", port)

    handler = SyncHandlerAdapter(StaticKeyHandler(SecretKey.from_hex(key_hex)))
    async with (
        open_connection(dial, handler=handler) as conn,
        Client(conn, MSG_EXTENDED_REQUEST, MSG_EXTENDED_RESPONSE) as client,
    ):
        yield client


async def ours_metadata(port: int, key_hex: str, path: str) -> list[float]:
    from distant_codec import Msg
    from distant_codec import common as cm
    from distant_codec import requests as rq

    payload = Msg.single(rq.Metadata(path))
    samples = []
    clock = time.perf_counter
    async with our_client(port, key_hex) as client:
        for i in range(RTT_WARMUP + RTT_SAMPLES):
            t0 = clock()
            reply = await client.request(payload, timeout=10)
            dt = clock() - t0
            if type(reply.payload.value) is not cm.Metadata:
                raise RuntimeError(f"metadata failed: {reply.payload.value!r}")
            if i >= RTT_WARMUP:
                samples.append(dt)
    return samples


async def ours_spawn(port: int, key_hex: str) -> list[float]:
    from distant_codec import Msg
    from distant_codec import requests as rq
    from distant_codec import responses as rs

    payload = Msg.single(rq.ProcSpawn("true"))
    samples = []
    clock = time.perf_counter
    async with our_client(port, key_hex) as client:
        for i in range(SPAWN_WARMUP + SPAWN_SAMPLES):
            t0 = clock()
            async with client.stream(payload) as mailbox:
                while True:
                    value = (await mailbox.next(timeout=10)).payload.value
                    if type(value) is rs.ProcDone:
                        break
                    if type(value) not in (rs.ProcSpawned, rs.ProcStdout, rs.ProcStderr):
                        raise RuntimeError(f"proc_spawn failed: {value!r}")
            dt = clock() - t0
            if not value.success:
                raise RuntimeError(f"true failed: {value!r}")
            if i >= SPAWN_WARMUP:
                samples.append(dt)
    return samples


# -- the anchor: asyncssh against the private sshd -------------------------------------------


async def anchor_stat(options: dict[str, Any], path: str) -> list[float]:
    import asyncssh

    samples = []
    clock = time.perf_counter
    async with asyncssh.connect(**options) as conn, conn.start_sftp_client() as sftp:
        for i in range(RTT_WARMUP + RTT_SAMPLES):
            t0 = clock()
            attrs = await sftp.stat(path)
            dt = clock() - t0
            if attrs.size is None:
                raise RuntimeError("sftp.stat returned no size")
            if i >= RTT_WARMUP:
                samples.append(dt)
    return samples


async def anchor_run(options: dict[str, Any]) -> list[float]:
    import asyncssh

    samples = []
    clock = time.perf_counter
    async with asyncssh.connect(**options) as conn:
        for i in range(SPAWN_WARMUP + SPAWN_SAMPLES):
            t0 = clock()
            result = await conn.run("true")
            dt = clock() - t0
            if result.exit_status != 0:
                raise RuntimeError(f"true failed over ssh: {result!r}")
            if i >= SPAWN_WARMUP:
                samples.append(dt)
    return samples


def run_on(backend: str, fn: Any, *args: object) -> Any:
    import anyio

    return anyio.run(fn, *args, backend=backend)


# -- the load --------------------------------------------------------------------------------


def _cpu_seconds(pid: int) -> float:
    """CPU time used so far by process ``pid`` (all its threads), from the scheduler."""
    with open(f"/proc/{pid}/schedstat") as f:
        return int(f.read().split()[0]) / 1e9


def load(port: int, server_pid: int, key_hex: str, path: str) -> dict[str, Any]:
    """64 clients x 1000 metadata requests from LOAD_PROCESSES processes."""
    per_process = [LOAD_CLIENTS // LOAD_PROCESSES] * LOAD_PROCESSES
    for i in range(LOAD_CLIENTS % LOAD_PROCESSES):
        per_process[i] += 1
    with contextlib.ExitStack() as stack:
        workers = [
            stack.enter_context(
                child(["load", str(port), str(n), str(LOAD_REQUESTS), path, LOAD_CLIENT], key_hex)
            )
            for n in per_process
        ]
        for worker in workers:
            worker.read_line("CONNECTED")
        cpu_before = [_cpu_seconds(p) for p in (server_pid, *(w.proc.pid for w in workers))]
        for worker in workers:
            worker.send_line("GO")
        results = [json.loads(worker.read_line("{", timeout=300)) for worker in workers]
        cpu = [
            _cpu_seconds(p) - before
            for p, before in zip((server_pid, *(w.proc.pid for w in workers)), cpu_before,
                                 strict=True)
        ]  # fmt: skip
        for worker in workers:  # they exit by themselves once they have reported
            with contextlib.suppress(subprocess.TimeoutExpired):
                worker.proc.wait(timeout=30)
    latencies = sorted(x for r in results for x in r["latencies"])
    elapsed = max(r["end"] for r in results) - min(r["start"] for r in results)
    done = len(latencies)
    return {
        "requests": done,
        "errors": sum(r["errors"] for r in results),
        "elapsed": elapsed,
        "rps": done / elapsed,
        "p50": latencies[len(latencies) // 2],
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "server_cpu": cpu[0] / elapsed,
        "generator_cpu": sum(cpu[1:]) / elapsed,
    }


# -- the table -------------------------------------------------------------------------------


def main() -> dict[str, Any]:
    from distant_auth import SecretKey

    key_hex = SecretKey.generate().to_hex()
    t_start = time.monotonic()
    load_before = os.getloadavg()[0]
    with target_file() as path, private_sshd() as sshd, our_server(key_hex) as (port, api, pid):
        options = sshd.asyncssh_options()
        ours_rtt: list[float] = []
        anchor_rtt: list[float] = []
        ours_proc: list[float] = []
        anchor_proc: list[float] = []
        for _ in range(BLOCKS):
            ours_rtt += run_on("trio", ours_metadata, port, key_hex, path)
            anchor_rtt += run_on("asyncio", anchor_stat, options, path)
        for _ in range(BLOCKS):
            ours_proc += run_on("trio", ours_spawn, port, key_hex)
            anchor_proc += run_on("asyncio", anchor_run, options)
        loaded = load(port, pid, key_hex, path)

    title = f"server: {api} in its own process (trio) vs OpenSSH sshd + asyncssh"
    if api != "HostApi":
        title += f"  [NOT the host Api: {api}]"
    print(header(title, "distant", "ssh (asyncssh)"))
    rtt, rtt_anchor = statistics.median(ours_rtt), statistics.median(anchor_rtt)
    print(row("metadata round trip (median)  vs sftp.stat", f"{rtt * 1e6:.0f} us",
              f"{rtt_anchor * 1e6:.0f} us", rtt / rtt_anchor, target=f"<= {TARGET_RTT}x",
              ok=rtt / rtt_anchor <= TARGET_RTT))  # fmt: skip
    proc, proc_anchor = statistics.median(ours_proc), statistics.median(anchor_proc)
    print(row('proc_spawn true -> proc_done  vs run("true")', f"{proc * 1e3:.2f} ms",
              f"{proc_anchor * 1e3:.2f} ms", proc / proc_anchor,
              target=f"<= {TARGET_SPAWN}x", ok=proc / proc_anchor <= TARGET_SPAWN))  # fmt: skip
    label = f"load {LOAD_CLIENTS} clients x {LOAD_REQUESTS} metadata"
    rps_ok = loaded["rps"] >= TARGET_RPS and loaded["errors"] == 0
    print(f"{label + ': req/s':<44} {loaded['rps']:>16,.0f} {'':>16} {'':>9} "
          f"{'>= 10k':>10}  {'meets target' if rps_ok else 'MISSES target'}")  # fmt: skip
    p99_ok = loaded["p99"] <= TARGET_P99 and loaded["errors"] == 0
    print(f"{label + ': p99 latency':<44} {loaded['p99'] * 1e3:>13.2f} ms {'':>16} {'':>9} "
          f"{'<= 20 ms':>10}  {'meets target' if p99_ok else 'MISSES target'}")  # fmt: skip
    print(f"  load: {loaded['requests']} replies, {loaded['errors']} errors in "
          f"{loaded['elapsed']:.2f} s, p50 {loaded['p50'] * 1e3:.2f} ms; {LOAD_PROCESSES} trio "
          f"process(es) x {LOAD_CLIENTS // LOAD_PROCESSES} {LOAD_CLIENT} client connections, "
          f"one request in flight per connection; CPU used: server "
          f"{loaded['server_cpu']:.0%} of a core, load generator "
          f"{loaded['generator_cpu']:.0%}")  # fmt: skip
    print(f"  samples: {len(ours_rtt)} / {len(anchor_rtt)} round trips, {len(ours_proc)} / "
          f"{len(anchor_proc)} processes, in {BLOCKS} alternating blocks; "
          f"total {time.monotonic() - t_start:.0f} s; load average {load_before:.2f} before, "
          f"{os.getloadavg()[0]:.2f} after, on {os.cpu_count()} CPUs")  # fmt: skip
    return {"rtt": (rtt, rtt_anchor), "proc": (proc, proc_anchor), "load": loaded}


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
