"""``distant generate config`` and ``distant generate completion SHELL`` (§12.2)."""

from __future__ import annotations

import os
import sys

from distant_cli.config import DEFAULT_CONFIG
from distant_cli.errors import CliError

__all__ = ["COMPLETION_SHELLS", "generate_config", "generate_completion", "write_output"]

COMPLETION_SHELLS = ("bash", "zsh", "fish")
"""The shells click can complete; upstream also has elvish and powershell."""


def write_output(text: str, output: str | None) -> None:
    """``text`` to ``output`` (atomically), or to stdout."""
    if not output:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    path = os.path.expanduser(output)
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        raise CliError(f"cannot write {output}: {exc.strerror or exc}") from None


def generate_config(output: str | None) -> int:
    write_output(DEFAULT_CONFIG, output)
    return 0


def generate_completion(shell: str, output: str | None) -> int:
    """The completion script of ``shell`` for the ``distant`` click application."""
    from click.shell_completion import get_completion_class

    from distant_cli.app import cli

    shell = shell.lower()
    cls = get_completion_class(shell) if shell in COMPLETION_SHELLS else None
    if cls is None:
        raise CliError(
            f"completion for {shell} is not supported",
            hint=f"use one of {', '.join(COMPLETION_SHELLS)}",
        )
    script = cls(cli, {}, "distant", "_DISTANT_COMPLETE").source()
    write_output(script if script.endswith("\n") else script + "\n", output)
    return 0
