"""distant plugins: host (distant://, manager:// launch), ssh (asyncssh and OpenSSH ControlMaster
backends), docker, and external plugin processes.

This package is a skeleton: its code lands with its own issue.
"""

__all__: list[str] = []
