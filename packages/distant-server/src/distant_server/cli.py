"""``distant-server listen``: the flags and output of ``distant server listen`` (§8.1, §12.2).

After binding, stdout receives the credentials block (three lines)::

    \\r
    distant://:<64 hex key>@<bound IP>:<port>
    \\r

With ``--daemon`` the parent prints ``[distant server detached, pid = N]`` and exits once the
detached child has bound and printed its credentials; the child then lets go of the
terminal. The key is 32 random bytes, or exactly 32 raw bytes read from stdin with
``--key-from-stdin`` (keys never travel through argv).

This module imports only the standard library at start-up; argparse, not click, so that
``pip install distant-server`` needs nothing else.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from .listen import ListenOptions, WatchSettings, serve_until_shutdown

__all__ = ["main", "build_parser", "add_listen_arguments", "options_from_args", "listen",
           "resolve_bind_host"]  # fmt: skip

LOG_LEVELS = ("off", "error", "warn", "info", "debug", "trace")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="distant-server", description="Serve the distant API on this host."
    )
    parser.add_argument("--version", action="version", version=_version_text())
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    listen = commands.add_parser("listen", help="listen for distant clients")
    add_listen_arguments(listen)
    return parser


def add_listen_arguments(listen: argparse.ArgumentParser) -> None:
    """The flags of ``server listen``; also used by ``distant server listen``."""
    listen.add_argument("--host", default="any", help="ssh, any, or an IP address (any)")
    listen.add_argument("--port", default="0", help="a port or an inclusive range P1:P2 (0)")
    listen.add_argument("-6", "--use-ipv6", action="store_true", help="bind IPv6 for 'any'")
    listen.add_argument("--shutdown", default="never", help="never, after=N or lonely=N (seconds)")
    listen.add_argument("--current-dir", help="working directory of the server")
    listen.add_argument("--daemon", action="store_true", help="detach and run in the background")
    listen.add_argument("--key-from-stdin", action="store_true", help="read 32 raw key bytes")
    listen.add_argument("--watch-polling", action="store_true", help="poll instead of inotify")
    listen.add_argument("--watch-poll-interval", type=float, help="seconds between polls")
    listen.add_argument(
        "--watch-compare-contents", action="store_true", help="compare contents when polling"
    )
    listen.add_argument("--watch-debounce-timeout", type=float, default=0.5, help="seconds (0.5)")
    listen.add_argument("--watch-debounce-tick-rate", type=float, help="seconds")
    listen.add_argument("--log-file", help="log to this file")
    listen.add_argument("--log-level", choices=LOG_LEVELS, default="info")


def _version_text() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"distant-server {version('distant-server')}"
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "distant-server (source)"


def resolve_bind_host(host: str, *, ipv6: bool) -> str:
    """The IP to bind: ``any`` → 0.0.0.0 or ::, ``ssh`` → the address the current SSH
    connection arrived on (from ``SSH_CONNECTION``), otherwise an IP address."""
    if host == "any":
        return "::" if ipv6 else "0.0.0.0"
    if host == "ssh":
        parts = os.environ.get("SSH_CONNECTION", "").split()
        if len(parts) != 4:
            raise ValueError("--host ssh needs SSH_CONNECTION (run it over ssh)")
        return parts[2]
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        raise ValueError(f"--host must be ssh, any or an IP address, not {host!r}") from None


def _read_key(from_stdin: bool) -> bytes:
    if not from_stdin:
        return os.urandom(32)
    data = sys.stdin.buffer.read(32)
    if len(data) != 32:
        raise ValueError(f"--key-from-stdin needs exactly 32 bytes on stdin, got {len(data)}")
    return data


def _configure_logging(log_file: str | None, level: str) -> None:
    if level == "off":
        logging.disable(logging.CRITICAL)
        return
    levels = {"error": logging.ERROR, "warn": logging.WARNING, "info": logging.INFO,
              "debug": logging.DEBUG, "trace": logging.DEBUG}  # fmt: skip
    if log_file is None:
        log_file = str(Path.home() / ".cache" / "distant" / "server.log")
    try:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.FileHandler(log_file)
    except OSError:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(levels[level])


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return listen(options_from_args(args))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def options_from_args(args: argparse.Namespace) -> ListenOptions:
    """Validate the parsed flags of ``server listen``."""
    from distant_net import Shutdown, parse_port_range

    return ListenOptions(
        host=resolve_bind_host(args.host, ipv6=args.use_ipv6),
        ports=parse_port_range(args.port),
        shutdown=Shutdown.parse(args.shutdown),
        key=_read_key(args.key_from_stdin),
        current_dir=args.current_dir,
        daemon=args.daemon,
        watch=WatchSettings(
            polling=args.watch_polling,
            poll_interval=args.watch_poll_interval,
            compare_contents=args.watch_compare_contents,
            debounce_timeout=args.watch_debounce_timeout,
            debounce_tick_rate=args.watch_debounce_tick_rate,
        ),
        log_file=args.log_file,
        log_level=args.log_level,
    )


def listen(options: ListenOptions) -> int:
    """Run ``server listen``; returns the exit code."""
    if options.current_dir:
        try:
            os.chdir(options.current_dir)
        except OSError as exc:
            raise ValueError(f"--current-dir {options.current_dir}: {exc.strerror}") from None
    _configure_logging(options.log_file, options.log_level)
    if options.daemon:
        from distant_net.daemon import detach

        return detach(lambda ready: serve_until_shutdown(options, ready))
    return serve_until_shutdown(options, None)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
