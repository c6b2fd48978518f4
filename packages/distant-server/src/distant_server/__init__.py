"""The distant server: the Api interface and its dispatcher, the host implementation, TCP tunnels
and the `distant-server` entry point.

This package is a skeleton: its code lands with its own issue.
"""

__all__: list[str] = []
