"""Plugins by scheme (§9.4): ``scheme://`` picks the plugin; without a scheme, ``launch``
goes to ``ssh`` and ``connect`` to ``distant``."""

from __future__ import annotations

from collections.abc import Iterable

from .plugin import Plugin, PluginError

__all__ = ["PluginRegistry", "DEFAULT_LAUNCH_SCHEME", "DEFAULT_CONNECT_SCHEME"]

DEFAULT_LAUNCH_SCHEME = "ssh"
DEFAULT_CONNECT_SCHEME = "distant"


class PluginRegistry:
    def __init__(self, plugins: Iterable[Plugin] = ()) -> None:
        self._by_scheme: dict[str, Plugin] = {}
        self.plugins: list[Plugin] = []
        for plugin in plugins:
            self.add(plugin)

    def add(self, plugin: Plugin) -> None:
        """Register; a scheme served twice is a startup error."""
        for scheme in plugin.schemes:
            key = scheme.lower()
            other = self._by_scheme.get(key)
            if other is not None:
                raise ValueError(
                    f"scheme {key!r} is claimed by both {_describe(other)} and {_describe(plugin)}"
                )
        for scheme in plugin.schemes:
            self._by_scheme[scheme.lower()] = plugin
        self.plugins.append(plugin)

    @property
    def schemes(self) -> list[str]:
        return sorted(self._by_scheme)

    def for_scheme(self, scheme: str | None, *, launch: bool) -> Plugin:
        key = (scheme or (DEFAULT_LAUNCH_SCHEME if launch else DEFAULT_CONNECT_SCHEME)).lower()
        plugin = self._by_scheme.get(key)
        if plugin is None:
            known = ", ".join(self.schemes) or "none"
            raise PluginError(f"no plugin handles scheme {key!r} (known: {known})")
        return plugin


def _describe(plugin: Plugin) -> str:
    """``plugin 'x'``, plus its kind: the same name can be a built-in and an external one."""
    kind = type(plugin).__name__
    return f"plugin {plugin.name!r} ({kind})"
