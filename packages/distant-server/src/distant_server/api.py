"""The Api interface: one async method per request type of §7.3 (and our extensions).

Every method defaults to the ``unsupported`` error (§7.2), so an implementation overrides
only what its backend can do (the host implements all of them; ssh and docker fewer). A
method returns its main reply, raises :class:`~distant_server.errors.ApiError` or an
``OSError`` (mapped to the right kind by the dispatcher), and registers any streamed
follow-up work with :meth:`ApiContext.after_reply <distant_server.context.ApiContext.after_reply>`.
The method name is the request's ``type``.
"""

from __future__ import annotations

from distant_codec import extensions as ex
from distant_codec import requests as rq
from distant_codec import responses as rs  # noqa: F401  (named in the docstrings)
from distant_codec.extensions import ExtendedResponse as Response

from .context import ApiContext
from .errors import unsupported

__all__ = ["Api"]


class Api:
    """The default implementation answers ``unsupported`` to everything."""

    def capabilities(self) -> tuple[str, ...]:
        """What ``version.capabilities`` advertises (upstream's names, §7.5)."""
        return ()

    async def file_read(self, ctx: ApiContext, req: rq.FileRead) -> Response:
        """``file_read`` → ``rs.Blob``."""
        raise unsupported("file_read")

    async def file_read_text(self, ctx: ApiContext, req: rq.FileReadText) -> Response:
        """``file_read_text`` → ``rs.Text``."""
        raise unsupported("file_read_text")

    async def file_write(self, ctx: ApiContext, req: rq.FileWrite) -> Response:
        """``file_write`` → ``rs.Ok``."""
        raise unsupported("file_write")

    async def file_write_text(self, ctx: ApiContext, req: rq.FileWriteText) -> Response:
        """``file_write_text`` → ``rs.Ok``."""
        raise unsupported("file_write_text")

    async def file_append(self, ctx: ApiContext, req: rq.FileAppend) -> Response:
        """``file_append`` → ``rs.Ok``."""
        raise unsupported("file_append")

    async def file_append_text(self, ctx: ApiContext, req: rq.FileAppendText) -> Response:
        """``file_append_text`` → ``rs.Ok``."""
        raise unsupported("file_append_text")

    async def dir_read(self, ctx: ApiContext, req: rq.DirRead) -> Response:
        """``dir_read`` → ``rs.DirEntries``."""
        raise unsupported("dir_read")

    async def dir_create(self, ctx: ApiContext, req: rq.DirCreate) -> Response:
        """``dir_create`` → ``rs.Ok``."""
        raise unsupported("dir_create")

    async def remove(self, ctx: ApiContext, req: rq.Remove) -> Response:
        """``remove`` → ``rs.Ok``."""
        raise unsupported("remove")

    async def copy(self, ctx: ApiContext, req: rq.Copy) -> Response:
        """``copy`` → ``rs.Ok``."""
        raise unsupported("copy")

    async def rename(self, ctx: ApiContext, req: rq.Rename) -> Response:
        """``rename`` → ``rs.Ok``."""
        raise unsupported("rename")

    async def watch(self, ctx: ApiContext, req: rq.Watch) -> Response:
        """``watch`` → ``rs.Ok``."""
        raise unsupported("watch")

    async def unwatch(self, ctx: ApiContext, req: rq.Unwatch) -> Response:
        """``unwatch`` → ``rs.Ok``."""
        raise unsupported("unwatch")

    async def exists(self, ctx: ApiContext, req: rq.Exists) -> Response:
        """``exists`` → ``rs.Exists``."""
        raise unsupported("exists")

    async def metadata(self, ctx: ApiContext, req: rq.Metadata) -> Response:
        """``metadata`` → ``rs.Metadata``."""
        raise unsupported("metadata")

    async def set_permissions(self, ctx: ApiContext, req: rq.SetPermissions) -> Response:
        """``set_permissions`` → ``rs.Ok``."""
        raise unsupported("set_permissions")

    async def search(self, ctx: ApiContext, req: rq.Search) -> Response:
        """``search`` → ``rs.SearchStarted``."""
        raise unsupported("search")

    async def cancel_search(self, ctx: ApiContext, req: rq.CancelSearch) -> Response:
        """``cancel_search`` → ``rs.Ok``."""
        raise unsupported("cancel_search")

    async def proc_spawn(self, ctx: ApiContext, req: rq.ProcSpawn) -> Response:
        """``proc_spawn`` → ``rs.ProcSpawned``."""
        raise unsupported("proc_spawn")

    async def proc_kill(self, ctx: ApiContext, req: rq.ProcKill) -> Response:
        """``proc_kill`` → ``rs.Ok``."""
        raise unsupported("proc_kill")

    async def proc_stdin(self, ctx: ApiContext, req: rq.ProcStdin) -> Response:
        """``proc_stdin`` → ``rs.Ok``."""
        raise unsupported("proc_stdin")

    async def proc_resize_pty(self, ctx: ApiContext, req: rq.ProcResizePty) -> Response:
        """``proc_resize_pty`` → ``rs.Ok``."""
        raise unsupported("proc_resize_pty")

    async def system_info(self, ctx: ApiContext, req: rq.SystemInfo) -> Response:
        """``system_info`` → ``rs.SystemInfo``."""
        raise unsupported("system_info")

    async def tunnel_open(self, ctx: ApiContext, req: rq.TunnelOpen) -> Response:
        """``tunnel_open`` → ``rs.TunnelOpened``."""
        raise unsupported("tunnel_open")

    async def tunnel_listen(self, ctx: ApiContext, req: rq.TunnelListen) -> Response:
        """``tunnel_listen`` → ``rs.TunnelListening``."""
        raise unsupported("tunnel_listen")

    async def tunnel_write(self, ctx: ApiContext, req: rq.TunnelWrite) -> Response:
        """``tunnel_write`` → ``rs.Ok``."""
        raise unsupported("tunnel_write")

    async def tunnel_close(self, ctx: ApiContext, req: rq.TunnelClose) -> Response:
        """``tunnel_close`` → ``rs.Ok``."""
        raise unsupported("tunnel_close")

    async def status(self, ctx: ApiContext, req: rq.Status) -> Response:
        """``status`` → ``rs.StatusInfo``."""
        raise unsupported("status")

    async def version(self, ctx: ApiContext, req: rq.Version) -> Response:
        """``version`` → ``rs.Version``."""
        raise unsupported("version")

    async def file_read_range(self, ctx: ApiContext, req: ex.FileReadRange) -> Response:
        """``file_read_range`` → ``ex.FileChunk``."""
        raise unsupported("file_read_range")

    async def file_write_range(self, ctx: ApiContext, req: ex.FileWriteRange) -> Response:
        """``file_write_range`` → ``rs.Ok``."""
        raise unsupported("file_write_range")

    async def file_checksum(self, ctx: ApiContext, req: ex.FileChecksum) -> Response:
        """``file_checksum`` → ``ex.Checksum``."""
        raise unsupported("file_checksum")
