"""The distant manager daemon: plugin registry, connections, channels, auth relay, managed
tunnels, and the ManagerClient API.

This package is a skeleton: its code lands with its own issue.
"""

__all__: list[str] = []
