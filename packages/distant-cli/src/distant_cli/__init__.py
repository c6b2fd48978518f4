"""The `distant` command-line application.

This package is a skeleton: its code lands with its own issue.
"""

__all__: list[str] = []
