"""The ``distant`` command-line application (§12 of the protocol reference).

:func:`main` is the ``distant`` entry point: a hand-parsed fast path for one-shot commands
(no click, no anyio), then the click application for everything else.
"""

from .main import main

__version__ = "0.1.0"

__all__ = ["__version__", "main"]
