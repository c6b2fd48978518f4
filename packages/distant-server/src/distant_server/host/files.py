"""The host's filesystem operations, as one mixin to compose into the host Api.

:class:`FileOps` implements ``file_read``, ``file_read_text``, ``file_write``,
``file_write_text``, ``file_append``, ``file_append_text``, ``dir_read``, ``dir_create``,
``remove``, ``copy``, ``rename``, ``exists``, ``metadata``, ``set_permissions`` and the
``fs_range`` extension (``file_read_range``, ``file_write_range``, ``file_checksum``).
Each blocking call runs in a worker thread, so a slow disk never stalls the event loop or
other requests. Semantics are those of distant 0.21's host server; where we differ or
decide something the spec leaves open, the module that implements the operation says so:

* :mod:`.fs_io`: whole-file reads, **atomic** writes, appends;
* :mod:`.dir_read`: directory listings (depth, absolute, canonicalize, include_root);
* :mod:`.fs_tree`: ``dir_create``, ``remove``, ``copy``, ``rename``, ``exists``;
* :mod:`.metadata`: ``metadata`` (birth time through ``statx`` on Linux);
* :mod:`.permissions`: ``set_permissions`` (recursive, symlink handling);
* :mod:`.ranges`: the ``fs_range`` extension (chunked reads/writes, checksums).
"""

from __future__ import annotations

from distant_codec.extensions import FS_RANGE_CAPABILITY

from .dir_read import DirReadOps
from .fs_io import FileIoOps
from .fs_tree import FsTreeOps
from .metadata import MetadataOps
from .permissions import PermissionsOps
from .ranges import MAX_RANGE_LENGTH, RangeOps

__all__ = [
    "FILE_CAPABILITIES",
    "MAX_RANGE_LENGTH",
    "DirReadOps",
    "FileIoOps",
    "FileOps",
    "FsTreeOps",
    "MetadataOps",
    "PermissionsOps",
    "RangeOps",
]

FILE_CAPABILITIES: tuple[str, ...] = ("fs_io", "fs_perm", FS_RANGE_CAPABILITY)
"""What these operations add to ``version.capabilities`` (upstream's names, §7.5)."""


class FileOps(FileIoOps, DirReadOps, FsTreeOps, MetadataOps, PermissionsOps, RangeOps):
    """Every filesystem operation of the host (see the module doc)."""

    def capabilities(self) -> tuple[str, ...]:
        """Cooperative: adds :data:`FILE_CAPABILITIES` to what the other mixins declare."""
        return (*super().capabilities(), *FILE_CAPABILITIES)
