"""CLI benchmarks (issue: the ``distant`` command-line application).

Our side is the real CLI: a manager on a private socket (``distant manager listen
--unix-socket``) connected to a local server it launched (``distant launch
manager://localhost``); every command runs with ``DISTANT_UNIX_SOCKET`` and ``DISTANT_CACHE``
pointing there. ``distant`` is the console script beside this interpreter (else ``python -m
distant_cli``; the table says which). The sources are compiled first (``compileall``) and
every child runs without ``PYTHONDONTWRITEBYTECODE``, as after a real install, which ships
.pyc files. The anchor is OpenSSH: a private ``sshd`` on 127.0.0.1 (``tests/support/sshd.py``)
logged into as the throwaway ``distant-bench`` account, through a ControlMaster
(``ssh -M -S <sock> -o ControlPersist=yes -fN``), so no ssh run pays for a handshake.

* **cli_startup**: whole-process wall time of a one-shot ``distant fs exists /etc/hosts``
  (which must print ``true``), beside ``python -c pass`` (the same interpreter and
  environment: the floor of any Python CLI) and ``ssh -S <sock> host test -e /etc/hosts``
  through the master. The three take turns (the order rotates each round), ``STARTUP_RUNS``
  rounds after ``STARTUP_WARMUP``; min and median of each. Target: distant's median at most
  1.5x the bare interpreter's; the ratio to ``ssh -S`` is printed for information.
* **cli_copy**: ``distant copy :SRC DST`` (remote -> local) and ``distant copy SRC :DST``
  (local -> remote) of a ``COPY_MIB`` MiB random file, both paths on this machine (the
  "remote" is the launched server), beside ``sftp -b`` ``get`` / ``put`` of the same file
  through the master. All local -> remote copies first, then all remote -> local ones; in
  each direction ours and sftp take turns, ``COPY_ROUNDS`` rounds; whole-process wall time,
  MB/s (10^6 bytes) of the median run. Every copy's sha256 is checked. Target: at least 1.5x
  sftp's MB/s. Peak RSS growth during the copies: the client's ``ru_maxrss`` (``os.wait4``)
  minus that of the same copy of a 4 KiB file (same code path, no data); the server's and
  the manager's peak (``VmHWM``, reset through ``clear_refs`` before each copy, and ``VmRSS``
  sampled every 10 ms) minus their ``VmRSS`` when idle before the first large copy (so what
  the first direction leaves behind counts against the second; the largest growth over the
  RSS just before a copy is printed too). Target: below 64 MiB for the client and the
  server (the manager, which relays every byte, is held to the same bar).

``BENCH_CLI_ONLY=startup|copy`` runs one of the two; ``BENCH_CLI_RUNS``, ``BENCH_CLI_ROUNDS``
and ``BENCH_CLI_MIB`` override ``STARTUP_RUNS``, ``COPY_ROUNDS`` and ``COPY_MIB``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._cli_setup import (
    BENCH_USER,
    DistantSide,
    SshMaster,
    compile_sources,
    distant_side,
    proc_status_kib,
    reset_peak_rss,
    ssh_master,
)
from ._report import header, row

ROOT = Path(__file__).resolve().parent.parent

STARTUP_RUNS = int(os.environ.get("BENCH_CLI_RUNS", "30"))
STARTUP_WARMUP = 3
COPY_MIB = int(os.environ.get("BENCH_CLI_MIB", "256"))
COPY_ROUNDS = int(os.environ.get("BENCH_CLI_ROUNDS", "3"))
TINY_BYTES = 4096
SAMPLE_INTERVAL = 0.010
TARGET_STARTUP = 1.5  # distant / python -c pass, at most (medians)
TARGET_COPY = 1.5  # ours MB/s / sftp MB/s, at least
TARGET_RSS_MIB = 64.0  # peak RSS growth, below
MiB = 1024 * 1024

_ONLY = os.environ.get("BENCH_CLI_ONLY", "")


# -- running a process, with its time and memory ---------------------------------------------


@dataclass
class Run:
    seconds: float
    returncode: int
    stdout: bytes
    stderr: bytes
    maxrss_kib: int  # the process's own peak RSS (ru_maxrss)
    peaks_kib: dict[int, int] = field(default_factory=dict)  # watched PID -> peak RSS seen
    before_kib: dict[int, int] = field(default_factory=dict)  # watched PID -> RSS at start
    cpu: dict[int, float] = field(default_factory=dict)  # PID (0: this one) -> CPU seconds

    def check(self, what: str, stdout: bytes | None = None) -> None:
        if self.returncode != 0 or (stdout is not None and self.stdout != stdout):
            raise RuntimeError(
                f"{what} exited with {self.returncode}; stdout {self.stdout[-500:]!r}, "
                f"stderr {self.stderr.decode(errors='replace')[-2000:]!r}"
            )


class _Sampler(threading.Thread):
    """VmRSS of some PIDs every SAMPLE_INTERVAL until stopped; the maximum of each."""

    def __init__(self, pids: list[int]) -> None:
        super().__init__(daemon=True)
        self.pids = pids
        self.peaks = dict.fromkeys(pids, 0)
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            for pid in self.pids:
                self.peaks[pid] = max(self.peaks[pid], proc_status_kib(pid, "VmRSS"))
            self._stop_event.wait(SAMPLE_INTERVAL)

    def stop(self) -> dict[int, int]:
        self._stop_event.set()
        self.join()
        return self.peaks


def cpu_seconds(pid: int) -> float:
    """CPU time used so far by process ``pid`` (all its threads), from the scheduler."""
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            return int(f.read().split()[0]) / 1e9
    except OSError:
        return 0.0


def run(argv: list[str], env: dict[str, str] | None = None, watch: Sequence[int] = ()) -> Run:
    """Run ``argv`` to completion: wall time, output, ru_maxrss, and the peak RSS of the
    ``watch`` PIDs meanwhile (VmHWM reset before, VmRSS sampled during)."""
    sampler = _Sampler(list(watch)) if watch else None
    reset = {pid: reset_peak_rss(pid) for pid in watch}
    before = {pid: proc_status_kib(pid, "VmRSS") for pid in watch}
    cpu_before = {pid: cpu_seconds(pid) for pid in watch}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        if sampler is not None:
            sampler.start()
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        peaks = sampler.stop() if sampler is not None else {}
        for pid in watch:
            if reset[pid]:
                peaks[pid] = max(peaks[pid], proc_status_kib(pid, "VmHWM"))
        cpu = {pid: cpu_seconds(pid) - cpu_before[pid] for pid in watch}
        cpu[0] = usage.ru_utime + usage.ru_stime
        out.seek(0)
        err.seek(0)
        return Run(
            seconds, proc.returncode, out.read(), err.read(), usage.ru_maxrss, peaks, before, cpu
        )


def quick(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, int, bytes]:
    """Wall time, exit code and stdout of ``argv`` (the start-up loop: nothing else)."""
    t0 = time.perf_counter()
    done = subprocess.run(argv, check=False, env=env, stdin=subprocess.DEVNULL, capture_output=True)
    return time.perf_counter() - t0, done.returncode, done.stdout


# -- cli_startup -----------------------------------------------------------------------------


def startup(side: DistantSide, master: SshMaster) -> dict[str, list[float]]:
    contenders: dict[str, tuple[list[str], bytes | None]] = {
        "distant": ([*side.command, "fs", "exists", "/etc/hosts"], b"true\n"),
        "python": ([sys.executable, "-c", "pass"], b""),
        "ssh": (master.ssh("test", "-e", "/etc/hosts"), b""),
    }
    names = list(contenders)
    samples: dict[str, list[float]] = {name: [] for name in names}
    load_before = os.getloadavg()[0]
    for i in range(STARTUP_WARMUP + STARTUP_RUNS):
        k = i % len(names)
        for name in names[k:] + names[:k]:
            argv, expected = contenders[name]
            seconds, code, stdout = quick(argv, side.env)
            if code != 0 or (expected is not None and stdout != expected):
                raise RuntimeError(f"{name}: {argv!r} exited with {code}, printed {stdout!r}")
            if i >= STARTUP_WARMUP:
                samples[name].append(seconds)
    samples["load"] = [load_before, os.getloadavg()[0]]
    return samples


def print_startup(side: DistantSide, samples: dict[str, list[float]]) -> dict[str, Any]:
    ours, py, ssh = samples["distant"], samples["python"], samples["ssh"]
    title = f"cli_startup: `distant fs exists /etc/hosts` ({side.described}) vs python -c pass"
    print(header(title, "distant", "python -c pass"))
    med = statistics.median(ours), statistics.median(py), statistics.median(ssh)
    low = min(ours), min(py), min(ssh)
    print(row("one-shot fs exists, median", f"{med[0] * 1e3:.1f} ms", f"{med[1] * 1e3:.1f} ms",
              med[0] / med[1], target=f"<= {TARGET_STARTUP}x",
              ok=med[0] / med[1] <= TARGET_STARTUP))  # fmt: skip
    print(row("one-shot fs exists, min", f"{low[0] * 1e3:.1f} ms", f"{low[1] * 1e3:.1f} ms",
              low[0] / low[1], target=f"<= {TARGET_STARTUP}x",
              ok=low[0] / low[1] <= TARGET_STARTUP))  # fmt: skip
    print(header("cli_startup, for information: vs ssh -S <master> host test -e /etc/hosts",
                 "distant", "ssh -S"))  # fmt: skip
    print(row("one-shot fs exists, median", f"{med[0] * 1e3:.1f} ms", f"{med[2] * 1e3:.1f} ms",
              med[0] / med[2], target="info"))  # fmt: skip
    print(row("one-shot fs exists, min", f"{low[0] * 1e3:.1f} ms", f"{low[2] * 1e3:.1f} ms",
              low[0] / low[2], target="info"))  # fmt: skip
    print(f"  {len(ours)} runs each after {STARTUP_WARMUP} warm-up, interleaved; distant max "
          f"{max(ours) * 1e3:.1f} ms, python max {max(py) * 1e3:.1f} ms, ssh max "
          f"{max(ssh) * 1e3:.1f} ms; manager via {side.manager_how}; load average "
          f"{samples['load'][0]:.2f} before, {samples['load'][1]:.2f} after, on "
          f"{os.cpu_count()} CPUs")  # fmt: skip
    return {"median": med, "min": low}


# -- cli_copy --------------------------------------------------------------------------------


@dataclass
class CopyFiles:
    directory: str
    src: str
    tiny: str
    digest: str
    sftp_dir: str  # writable by the ssh account


@contextlib.contextmanager
def copy_files() -> Iterator[CopyFiles]:
    import pwd

    with tempfile.TemporaryDirectory(prefix="distant-bench-copy-") as tmp:
        os.chmod(tmp, 0o755)
        src = os.path.join(tmp, "src.bin")
        digest = hashlib.sha256()
        with open(src, "wb") as f:
            for _ in range(COPY_MIB):
                chunk = os.urandom(MiB)
                digest.update(chunk)
                f.write(chunk)
        os.chmod(src, 0o644)
        tiny = os.path.join(tmp, "tiny.bin")
        with open(tiny, "wb") as f:
            f.write(os.urandom(TINY_BYTES))
        os.chmod(tiny, 0o644)
        sftp_dir = os.path.join(tmp, "sftp")
        os.mkdir(sftp_dir, 0o755)
        entry = pwd.getpwnam(BENCH_USER)
        os.chown(sftp_dir, entry.pw_uid, entry.pw_gid)
        yield CopyFiles(tmp, src, tiny, digest.hexdigest(), sftp_dir)


def _verify(path: str, digest: str, what: str) -> None:
    with open(path, "rb") as f:
        got = hashlib.file_digest(f, "sha256").hexdigest()
    if got != digest:
        raise RuntimeError(f"{what}: sha256 of {path} is {got}, expected {digest}")
    os.unlink(path)


def copy(side: DistantSide, master: SshMaster, files: CopyFiles) -> dict[str, Any]:
    tmp, src = files.directory, files.src
    load_before = os.getloadavg()[0]
    watch = [side.manager.pid, side.server_pid]

    def ours(direction: str, source: str, dst: str) -> list[str]:
        if direction == "get":  # remote -> local
            return [*side.command, "copy", f":{source}", dst]
        return [*side.command, "copy", source, f":{dst}"]

    # The client's baseline: the same copy of a tiny file (same imports, same code path).
    baseline: dict[str, int] = {}
    for direction in ("get", "put"):
        rss = []
        for i in range(3):
            dst = os.path.join(tmp, f"tiny-{direction}-{i}.bin")
            r = run(ours(direction, files.tiny, dst), side.env)
            r.check(f"tiny copy ({direction})")
            rss.append(r.maxrss_kib)
            os.unlink(dst)
        baseline[direction] = min(rss)
    exists = run([*side.command, "fs", "exists", "/etc/hosts"], side.env)
    exists.check("fs exists", b"true\n")
    idle = {pid: proc_status_kib(pid, "VmRSS") for pid in watch}

    batch = {
        "get": f"get {src} {os.path.join(tmp, 'sftp-get.bin')}\n",
        "put": f"put {src} {os.path.join(files.sftp_dir, 'sftp-put.bin')}\n",
    }
    batch_files = {}
    for direction, text in batch.items():
        batch_files[direction] = os.path.join(tmp, f"batch-{direction}.txt")
        Path(batch_files[direction]).write_text(text)
    # Local -> remote first, then remote -> local: what one direction leaves behind in a
    # process then counts against the other (the growth is over the idle RSS before both).
    results: dict[tuple[str, str], list[Run]] = {}
    for direction in ("put", "get"):
        pair = [("ours", direction), ("sftp", direction)]
        results.update({job: [] for job in pair})
        for i in range(COPY_ROUNDS):
            for who, _ in pair if i % 2 == 0 else pair[::-1]:
                if who == "ours":
                    dst = os.path.join(tmp, f"ours-{direction}.bin")
                    r = run(ours(direction, src, dst), side.env, watch)
                else:
                    dst = batch[direction].split()[-1]
                    r = run(master.sftp(batch_files[direction]), side.env)
                r.check(f"{who} {direction}")
                _verify(dst, files.digest, f"{who} {direction}")
                results[(who, direction)].append(r)
    return {
        "results": results,
        "baseline": baseline,
        "idle": idle,
        "exists_rss": exists.maxrss_kib,
        "load": (load_before, os.getloadavg()[0]),
    }


def print_copy(side: DistantSide, measured: dict[str, Any]) -> dict[str, Any]:
    results: dict[tuple[str, str], list[Run]] = measured["results"]
    size_mb = COPY_MIB * MiB / 1e6
    title = f"cli_copy: `distant copy` of {COPY_MIB} MiB (local server) vs sftp via ControlMaster"
    print(header(title, "distant", "sftp"))
    out: dict[str, Any] = {}
    for direction, label in (("put", "local -> remote  vs sftp put"),
                             ("get", "remote -> local  vs sftp get")):  # fmt: skip
        ours = size_mb / statistics.median(r.seconds for r in results[("ours", direction)])
        sftp = size_mb / statistics.median(r.seconds for r in results[("sftp", direction)])
        print(row(f"copy {label}", f"{ours:.0f} MB/s", f"{sftp:.0f} MB/s", ours / sftp,
                  target=f">= {TARGET_COPY}x", ok=ours / sftp >= TARGET_COPY))  # fmt: skip
        out[direction] = (ours, sftp)
    manager_pid, server_pid = side.manager.pid, side.server_pid
    idle = measured["idle"]
    for direction in ("put", "get"):
        runs = results[("ours", direction)]
        growth = {
            "client": (max(r.maxrss_kib for r in runs) - measured["baseline"][direction]) / 1024,
            "server": (max(r.peaks_kib[server_pid] for r in runs) - idle[server_pid]) / 1024,
            "manager": (max(r.peaks_kib[manager_pid] for r in runs) - idle[manager_pid]) / 1024,
        }
        for who, mib in growth.items():
            ok = mib < TARGET_RSS_MIB
            label = f"peak RSS growth, {who}, copy {direction}"
            print(f"{label:<44} {mib:>12.1f} MiB {'':>16} {'':>9} {'< 64 MiB':>10}  "
                  f"{'meets target' if ok else 'MISSES target'}")  # fmt: skip
        out[f"rss_{direction}"] = growth
    sftp_rss = max(r.maxrss_kib for who_dir, rs in results.items() if who_dir[0] == "sftp"
                   for r in rs)  # fmt: skip
    client_peak = max(r.maxrss_kib for d in ("get", "put") for r in results[("ours", d)])
    print(f"  medians of {COPY_ROUNDS} interleaved rounds (whole-process wall time, sha256 "
          f"checked); best: "
          + ", ".join(f"{w} {d} {size_mb / min(r.seconds for r in results[(w, d)]):.0f} MB/s"
                      for w, d in results)
          + f"; launch took {side.launch_seconds:.2f} s")  # fmt: skip
    print(f"  RSS (KiB): client peak {client_peak}, tiny-copy baseline get "
          f"{measured['baseline']['get']} / put {measured['baseline']['put']}, fs exists "
          f"{measured['exists_rss']}; idle manager {idle[manager_pid]}, server "
          f"{idle[server_pid]}; sftp client peak {sftp_rss}")  # fmt: skip
    per_copy = {
        (who, d): max(r.peaks_kib[pid] - r.before_kib[pid] for r in results[("ours", d)]) // 1024
        for who, pid in (("manager", manager_pid), ("server", server_pid))
        for d in ("put", "get")
    }
    print("  largest growth over the RSS just before each copy (MiB): "
          + ", ".join(f"{who} {d} {mib}" for (who, d), mib in per_copy.items())
          + "; CPU seconds per copy (median) "
          + ", ".join(
              f"{d}: client {statistics.median(r.cpu[0] for r in results[('ours', d)]):.2f} "
              f"manager {statistics.median(r.cpu[manager_pid] for r in results[('ours', d)]):.2f} "
              f"server {statistics.median(r.cpu[server_pid] for r in results[('ours', d)]):.2f}"
              for d in ("put", "get"))
          + f"; load average {measured['load'][0]:.2f} before, {measured['load'][1]:.2f} "
          f"after, on {os.cpu_count()} CPUs")  # fmt: skip
    return out


# -- the tables ------------------------------------------------------------------------------


def main() -> dict[str, Any]:
    compile_sources()
    out: dict[str, Any] = {}
    with distant_side() as side, ssh_master() as master:
        if _ONLY in ("", "startup"):
            out["startup"] = print_startup(side, startup(side, master))
        if _ONLY in ("", "copy"):
            with copy_files() as files:
                out["copy"] = print_copy(side, copy(side, master, files))
    return out


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
