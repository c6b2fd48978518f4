"""Registering external plugins: ``plugins.toml`` and ``manager listen --plugin NAME=PATH``.

``plugins.toml`` lives in the user's config directory (``$XDG_CONFIG_HOME/distant``, by
default ``~/.config/distant``), or beside the file given with ``--config``::

    [plugins.docker]
    path = "/usr/local/bin/distant-plugin-docker"

    [plugins.ftp]
    path = "/usr/local/bin/distant-plugin-ftp"
    schemes = ["ftp", "sftp"]
    setup_timeout = 30          # seconds; our extension, default 120

``path`` is required and must be absolute; ``schemes`` defaults to ``[NAME]``. The
``[manager.plugins]`` table of ``config.toml`` (``NAME = "PATH"`` or the same tables) is
read too. ``--plugin NAME=PATH`` flags win: a flag sets the path of plugin NAME (keeping the
schemes a file gave it) or adds it. A relative flag path is taken from the current directory.

Every problem is a :class:`PluginConfigError` whose text says where it comes from; the
manager refuses to start on one.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from .external import SETUP_TIMEOUT, ExternalPlugin

__all__ = [
    "PluginConfigError",
    "PluginSpec",
    "plugins_toml_path",
    "read_plugins_toml",
    "parse_plugin_table",
    "parse_plugin_flag",
    "merge_plugin_specs",
    "load_plugin_specs",
    "build_external_plugins",
]

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*$")
_KEYS = {"path", "schemes", "setup_timeout"}


class PluginConfigError(ValueError):
    """A plugin registration is invalid (the text names the file or flag)."""


@dataclass(frozen=True)
class PluginSpec:
    name: str
    path: str
    schemes: tuple[str, ...]
    setup_timeout: float = SETUP_TIMEOUT
    source: str = ""
    """Where it was registered (for error messages)."""


def plugins_toml_path(config_file: str | None = None) -> str:
    """``plugins.toml`` beside ``config_file``, else in the user's config directory."""
    if config_file:
        return os.path.join(os.path.dirname(os.path.abspath(config_file)), "plugins.toml")
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "distant", "plugins.toml")


def read_plugins_toml(path: str) -> dict[str, PluginSpec]:
    """The plugins of one ``plugins.toml`` ({} when the file does not exist)."""
    import tomllib

    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise PluginConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise PluginConfigError(f"bad TOML in {path}: {exc}") from None
    unknown = sorted(set(data) - {"plugins"})
    if unknown:
        raise PluginConfigError(f"{path}: unknown top-level key(s) {', '.join(unknown)}")
    return parse_plugin_table(data.get("plugins", {}), path)


def parse_plugin_table(table: Any, source: str) -> dict[str, PluginSpec]:
    """``{NAME: {path, schemes?, setup_timeout?}}`` (or ``{NAME: "PATH"}``) from ``source``."""
    if not isinstance(table, Mapping):
        raise PluginConfigError(f"{source}: 'plugins' must be a table")
    specs: dict[str, PluginSpec] = {}
    for name, raw in table.items():
        where = f"{source}: plugin {name!r}"
        entry = {"path": raw} if isinstance(raw, str) else raw
        if not isinstance(entry, Mapping):
            raise PluginConfigError(f"{where}: expected a table with a 'path'")
        unknown = sorted(set(entry) - _KEYS)
        if unknown:
            raise PluginConfigError(f"{where}: unknown key(s) {', '.join(unknown)}")
        path = entry.get("path")
        if not isinstance(path, str) or not path:
            raise PluginConfigError(f"{where}: 'path' (a string) is required")
        if not os.path.isabs(path):
            raise PluginConfigError(f"{where}: the path {path!r} must be absolute")
        schemes = entry.get("schemes", [name])
        if not isinstance(schemes, list) or not all(isinstance(s, str) for s in schemes):
            raise PluginConfigError(f"{where}: 'schemes' must be a list of strings")
        timeout = entry.get("setup_timeout", SETUP_TIMEOUT)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise PluginConfigError(f"{where}: 'setup_timeout' must be a positive number")
        specs[str(name)] = _checked(
            PluginSpec(str(name), path, tuple(schemes), float(timeout), source)
        )
    return specs


def parse_plugin_flag(value: str) -> tuple[str, str]:
    """``NAME=PATH`` (a relative path is made absolute from the current directory)."""
    name, sep, path = value.partition("=")
    name, path = name.strip(), path.strip()
    if not sep or not name or not path:
        raise PluginConfigError(f"bad --plugin {value!r}: expected NAME=PATH")
    return name, os.path.abspath(os.path.expanduser(path))


def merge_plugin_specs(
    *sources: Mapping[str, PluginSpec], flags: Iterable[str] = ()
) -> list[PluginSpec]:
    """Later sources win by name; then the flags set paths (or add plugins)."""
    merged: dict[str, PluginSpec] = {}
    for source in sources:
        merged.update(source)
    for flag in flags:
        name, path = parse_plugin_flag(flag)
        where = f"--plugin {flag}"
        known = merged.get(name)
        spec = (
            replace(known, path=path, source=where)
            if known is not None
            else PluginSpec(name, path, (name,), SETUP_TIMEOUT, where)
        )
        merged[name] = _checked(spec)
    return list(merged.values())


def load_plugin_specs(
    config_file: str | None = None,
    flags: Iterable[str] = (),
    config_table: Any = None,
) -> list[PluginSpec]:
    """Everything registered: ``plugins.toml``, then ``config_table`` (the
    ``[manager.plugins]`` of ``config.toml``), then the ``--plugin`` flags."""
    from_file = read_plugins_toml(plugins_toml_path(config_file))
    from_config = (
        parse_plugin_table(config_table, "config [manager.plugins]") if config_table else {}
    )
    specs = merge_plugin_specs(from_file, from_config, flags=flags)
    _check_unique_schemes(specs)
    return specs


def build_external_plugins(specs: Iterable[PluginSpec]) -> list[ExternalPlugin]:
    return [ExternalPlugin(s.name, s.path, s.schemes, s.setup_timeout) for s in specs]


def _checked(spec: PluginSpec) -> PluginSpec:
    where = f"{spec.source}: plugin {spec.name!r}" if spec.source else f"plugin {spec.name!r}"
    if not spec.schemes:
        raise PluginConfigError(f"{where}: 'schemes' is empty")
    for scheme in spec.schemes:
        if not _SCHEME.match(scheme):
            raise PluginConfigError(f"{where}: {scheme!r} is not a valid scheme")
    if not os.path.exists(spec.path):
        raise PluginConfigError(f"{where}: {spec.path} does not exist")
    if not os.path.isfile(spec.path) or not os.access(spec.path, os.X_OK):
        raise PluginConfigError(f"{where}: {spec.path} is not an executable file")
    return spec


def _check_unique_schemes(specs: Iterable[PluginSpec]) -> None:
    owner: dict[str, str] = {}
    for spec in specs:
        for scheme in spec.schemes:
            key = scheme.lower()
            if key in owner and owner[key] != spec.name:
                raise PluginConfigError(
                    f"scheme {key!r} is claimed by both plugins {owner[key]!r} and {spec.name!r}"
                )
            owner[key] = spec.name
