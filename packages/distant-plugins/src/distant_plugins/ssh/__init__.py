"""The ssh plugin: the distant API over one SSH connection (:class:`.api.SshApi`), with an
asyncssh backend (in-process, the default) and an openssh backend (the system ``ssh``).

Submodules are imported lazily by their users: asyncssh loads only when a connection
uses it.
"""

__all__: list[str] = []
