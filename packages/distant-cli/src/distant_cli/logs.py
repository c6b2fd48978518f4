"""Logging of CLI processes (§12.1): never on stdout.

``--log-file`` sends records to that file; without it, records go to stderr, at the
``--log-level`` given (default ``warn``, so a bad ``distant api`` line shows up there).
``off`` disables logging. ``trace`` is debug with more detail.
"""

from __future__ import annotations

import logging
import os
import sys

__all__ = ["LOG_LEVELS", "setup_logging"]

LOG_LEVELS = ("off", "error", "warn", "info", "debug", "trace")

_LEVELS = {
    "error": logging.ERROR,
    "warn": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
    "trace": logging.DEBUG,
}


def setup_logging(level: str | None, log_file: str | None) -> None:
    """Configure the root logger once for this process."""
    root = logging.getLogger()
    if getattr(root, "_distant_configured", False):
        return
    root._distant_configured = True  # type: ignore[attr-defined]
    if level == "off":
        logging.disable(logging.CRITICAL)
        return
    handler: logging.Handler
    if log_file:
        path = os.path.expanduser(log_file)
        try:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            handler = logging.FileHandler(path)
        except OSError:
            handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(
            logging.Formatter("%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s")
        )
        default = "info"
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        default = "warn"
    root.addHandler(handler)
    root.setLevel(_LEVELS.get(level or default, logging.WARNING))
