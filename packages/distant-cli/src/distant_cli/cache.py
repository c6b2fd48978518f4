"""The cache file (§12.5): ``selected = "<id>"`` in TOML, 0 meaning nothing selected."""

from __future__ import annotations

import os

__all__ = ["default_cache_path", "read_selected", "write_selected"]


def default_cache_path() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "distant", "cache.toml")


def read_selected(path: str | None) -> int:
    """The selected connection id, 0 when none (or the file is missing or unreadable)."""
    path = path or default_cache_path()
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return 0
    # What write_selected writes, without importing tomllib (~5 ms of start-up).
    line = text.strip()
    if "\n" not in line and line.startswith("selected") and line.endswith('"'):
        key, sep, value = line.partition("=")
        value = value.strip()
        digits = value[1:-1]
        if (
            sep
            and key.strip() == "selected"
            and value[0] == '"'
            and digits.isascii()
            and digits.isdigit()
        ):
            return int(digits)
    import tomllib

    try:
        value = tomllib.loads(text).get("selected", "0")
        return int(value)
    except (tomllib.TOMLDecodeError, ValueError, TypeError):
        return 0


def write_selected(path: str | None, connection_id: int) -> None:
    """Write the selection atomically (temp file + rename)."""
    path = path or default_cache_path()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(f'selected = "{connection_id}"\n')
    os.replace(tmp, path)
