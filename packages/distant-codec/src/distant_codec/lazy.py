"""Lazy package exports (PEP 562), shared by the distant packages' ``__init__`` modules.

A name is imported from its submodule on first access, then cached in the package, so
importing one submodule (the CLI's fast path does) never drags in the rest.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (fast start-up)
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, module_of: Mapping[str, str], names: Iterable[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``: ``module_of`` maps each exported name
    (or a submodule's own name) to the submodule that defines it."""
    listed = sorted({*names, *module_of.values()})

    def __getattr__(name: str) -> Any:
        submodule = module_of.get(name)
        if submodule is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        qualified = f"{package}.{submodule}"
        __import__(qualified)
        module = sys.modules[qualified]
        value = module if submodule == name else getattr(module, name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *listed})

    return __getattr__, __dir__
