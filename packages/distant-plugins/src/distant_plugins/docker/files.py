"""Files and directories in the container.

Through the archive API, so they work in a container with no shell or tools at all:

* ``file_read``/``file_read_text``: the file's tar (symlinks followed).
* ``file_write``/``file_write_text``: a tar with the file is extracted into its directory;
  an existing file keeps its permission bits (the owner becomes root, as the tar says).
  With ``mv`` in the container the tar holds a temporary name which ``mv`` then renames
  over the target, so a reader never sees a half-written file; without it the target is
  written in place. ``file_append*`` reads, then writes the whole file.
* ``dir_read``: the directory's tar, listed (contents are streamed past, never held), with
  the host's semantics: entries sorted, pre-order, depth 1 for the root's entries,
  ``include_root``/``absolute``/``canonicalize``.
* ``dir_create``: a tar of the missing directories (``all``: every missing parent).
* ``exists``/``metadata``: the archive stat (``HEAD``): file type, size, permission bits,
  modification time; no access or birth time.

Through commands in the container, when it has them (else ``unsupported``, saying what
is missing): ``remove`` (``rm``/``rmdir``), ``copy`` (``cp -R``), ``rename`` (``mv``),
``set_permissions`` (``chmod``, symbolic so unset bits are kept, ``-R`` when recursive).
"""

from __future__ import annotations

import errno
import posixpath
import secrets
import tarfile

from distant_codec import DirEntry, Error, ErrorKind, FileType, Metadata, UnixMetadata
from distant_codec import common as c
from distant_codec import requests as rq
from distant_codec import responses as rs
from distant_codec.extensions import ExtendedResponse as Response
from distant_server import ApiError

from .archive import dirs_tar, file_tar
from .engine import Engine

__all__ = ["DockerFiles", "symbolic_mode", "FILE_TOOLS", "command_error"]

FILE_TOOLS = ("mv", "rm", "rmdir", "cp", "chmod")


def _abs(path: str) -> str:
    """``path`` made absolute against ``/`` (the archive API's own base) and normalised."""
    return posixpath.normpath(posixpath.join("/", path))


def symbolic_mode(perms: c.Permissions) -> str | None:
    """The permissions as a ``chmod`` symbolic mode (``u+r,g-w``); None if nothing set."""
    parts: list[str] = []
    for who, prefix in (("u", "owner"), ("g", "group"), ("o", "other")):
        add = ""
        drop = ""
        for letter, name in (("r", "read"), ("w", "write"), ("x", "exec")):
            value = getattr(perms, f"{prefix}_{name}")
            if value is True:
                add += letter
            elif value is False:
                drop += letter
        if add:
            parts.append(f"{who}+{add}")
        if drop:
            parts.append(f"{who}-{drop}")
    return ",".join(parts) or None


def command_error(tool: str, path: str, code: int | None, err: bytes) -> Exception:
    text = err.decode("utf-8", "replace").strip() or f"{tool} exited with {code}"
    lowered = text.lower()
    if "no such file" in lowered:
        return FileNotFoundError(errno.ENOENT, "No such file or directory", path)
    if "not empty" in lowered:
        return OSError(errno.ENOTEMPTY, "Directory not empty", path)
    if "permission denied" in lowered or "read-only" in lowered:
        return PermissionError(errno.EACCES, "Permission denied", path)
    if "exists" in lowered:
        return FileExistsError(errno.EEXIST, "File exists", path)
    return ApiError(ErrorKind.OTHER, text)


class DockerFiles:
    """The file operations; ``tools`` are the commands the container has."""

    def __init__(self, engine: Engine, tools: frozenset[str]) -> None:
        self.engine = engine
        self.tools = tools

    def _need(self, operation: str, *tools: str) -> None:
        missing = [t for t in tools if t not in self.tools]
        if missing:
            raise ApiError(
                ErrorKind.UNSUPPORTED,
                f"{operation} is unsupported in this container: it has no {', '.join(missing)}",
            )

    async def _run(self, tool: str, path: str, argv: list[str]) -> None:
        code, _, err = await self.engine.run(argv)
        if code != 0:
            raise command_error(tool, path, code, err)

    # -- contents --------------------------------------------------------------------------

    async def file_read(self, req: rq.FileRead) -> Response:
        return rs.Blob(await self.engine.read_file(_abs(req.path)))

    async def file_read_text(self, req: rq.FileReadText) -> Response:
        data = await self.engine.read_file(_abs(req.path))
        return rs.Text(data.decode("utf-8"))

    async def write(self, path: str, data: bytes) -> None:
        path = _abs(path)
        mode = 0o644
        target = path
        try:
            target, st = await self.engine.resolve(path)
        except FileNotFoundError:
            st = None
        if st is not None:
            if st.is_dir:
                raise IsADirectoryError(errno.EISDIR, "Is a directory", path)
            mode = st.permissions
        directory, name = posixpath.split(target)
        if "mv" in self.tools:
            temp = f".{name}.distant-{secrets.token_hex(4)}"
            await self.engine.put(directory, file_tar(temp, data, mode))
            temp_path = posixpath.join(directory, temp)
            code, _, err = await self.engine.run(["mv", "-f", temp_path, target])
            if code != 0:
                await self.engine.run(["rm", "-f", temp_path])
                raise command_error("mv", path, code, err)
        else:
            await self.engine.put(directory, file_tar(name, data, mode))

    async def file_write(self, req: rq.FileWrite) -> Response:
        await self.write(req.path, req.data)
        return rs.Ok()

    async def file_write_text(self, req: rq.FileWriteText) -> Response:
        await self.write(req.path, req.text.encode("utf-8"))
        return rs.Ok()

    async def append(self, path: str, data: bytes) -> None:
        try:
            old = await self.engine.read_file(_abs(path))
        except FileNotFoundError:
            old = b""
        await self.write(path, old + data)

    async def file_append(self, req: rq.FileAppend) -> Response:
        await self.append(req.path, req.data)
        return rs.Ok()

    async def file_append_text(self, req: rq.FileAppendText) -> Response:
        await self.append(req.path, req.text.encode("utf-8"))
        return rs.Ok()

    # -- directories -----------------------------------------------------------------------

    async def dir_read(self, req: rq.DirRead) -> Response:
        root, st = await self.engine.resolve(_abs(req.path))
        entries: list[DirEntry] = []
        errors: list[Error] = []
        if req.include_root:
            entries.append(DirEntry(root, st.file_type, 0))
        if not st.is_dir:
            return rs.DirEntries(tuple(entries), ())
        members = await self.engine.list_tree(root)
        base = members[0].name if members else ""
        found: list[tuple[tuple[bytes, ...], str, tarfile.TarInfo]] = []
        for info in members[1:]:
            name = info.name
            if base:
                if not name.startswith(base + "/"):
                    continue
                rel = name[len(base) + 1 :]
            else:
                rel = name.lstrip("/")
            rel = rel.strip("/")
            if not rel:
                continue
            parts = rel.split("/")
            if req.depth and len(parts) > req.depth:
                continue
            found.append((tuple(p.encode() for p in parts), rel, info))
        found.sort(key=lambda item: item[0])
        for key, rel, info in found:
            kind = FileType.SYMLINK
            if info.isdir():
                kind = FileType.DIR
            elif info.isreg():
                kind = FileType.FILE
            full = posixpath.join(root, rel)
            path = full
            if req.canonicalize and info.issym():
                try:
                    path, _ = await self.engine.resolve(full)
                except OSError as exc:
                    errors.append(Error(ErrorKind.NOT_FOUND, f"{exc.strerror}: {full}"))
                    continue
            if not req.absolute:
                prefix = root.rstrip("/") + "/"
                if path.startswith(prefix):
                    path = path[len(prefix) :]
            entries.append(DirEntry(path, kind, len(key)))
        return rs.DirEntries(tuple(entries), tuple(errors))

    async def dir_create(self, req: rq.DirCreate) -> Response:
        path = _abs(req.path)
        missing: list[str] = []
        current = path
        while current != "/":
            try:
                _, st = await self.engine.resolve(current)
            except FileNotFoundError:
                missing.append(current)
                current = posixpath.dirname(current)
                continue
            if not st.is_dir:
                raise NotADirectoryError(errno.ENOTDIR, "Not a directory", current)
            break
        if not missing:
            if req.all:
                return rs.Ok()
            raise FileExistsError(errno.EEXIST, "File exists", path)
        if len(missing) > 1 and not req.all:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)
        names = [posixpath.relpath(p, current) for p in reversed(missing)]
        await self.engine.put(current, dirs_tar(names))
        return rs.Ok()

    async def remove(self, req: rq.Remove) -> Response:
        path = _abs(req.path)
        st = await self.engine.stat(path)  # not_found before any command runs
        if st.is_dir and not req.force:
            self._need("remove", "rmdir")
            await self._run("rmdir", path, ["rmdir", path])
        else:
            self._need("remove", "rm")
            await self._run("rm", path, ["rm", "-rf" if st.is_dir else "-f", path])
        return rs.Ok()

    async def copy(self, req: rq.Copy) -> Response:
        self._need("copy", "cp")
        src, dst = _abs(req.src), _abs(req.dst)
        _, st = await self.engine.resolve(src)
        if st.is_dir:
            if dst == src or dst.startswith(src.rstrip("/") + "/"):
                raise ApiError(
                    ErrorKind.INVALID_INPUT, f"cannot copy a directory into itself: {src} -> {dst}"
                )
            try:
                await self.engine.stat(dst)
                argv = ["cp", "-R", "-L", "-p", src + "/.", dst]
            except FileNotFoundError:
                argv = ["cp", "-R", "-L", "-p", src, dst]
        else:
            argv = ["cp", "-L", src, dst]
        await self._run("cp", src, argv)
        return rs.Ok()

    async def rename(self, req: rq.Rename) -> Response:
        self._need("rename", "mv")
        src, dst = _abs(req.src), _abs(req.dst)
        await self.engine.stat(src)
        await self._run("mv", src, ["mv", "-f", src, dst])
        return rs.Ok()

    # -- metadata --------------------------------------------------------------------------

    async def exists(self, req: rq.Exists) -> Response:
        try:
            await self.engine.resolve(_abs(req.path))
        except (FileNotFoundError, NotADirectoryError):
            return rs.Exists(False)
        return rs.Exists(True)

    async def metadata(self, req: rq.Metadata) -> Response:
        path = _abs(req.path)
        st = await self.engine.stat(path)
        canonical: str | None = None
        file_type = st.file_type
        if req.canonicalize or (req.resolve_file_type and st.is_symlink):
            real, real_st = await self.engine.resolve(path)
            if req.canonicalize:
                canonical = real
            if req.resolve_file_type:
                file_type = real_st.file_type
        return Metadata(
            canonicalized_path=canonical,
            file_type=file_type,
            len=st.size,
            readonly=(st.mode & 0o222) == 0,
            modified=st.modified,
            unix=UnixMetadata.from_mode(st.mode & 0o777),
        )

    async def set_permissions(self, req: rq.SetPermissions) -> Response:
        self._need("set_permissions", "chmod")
        path = _abs(req.path)
        st = await self.engine.stat(path)
        if st.is_symlink and req.options.exclude_symlinks:
            return rs.Ok()
        mode = symbolic_mode(req.permissions)
        if mode is None:
            return rs.Ok()
        argv = ["chmod", *(["-R"] if req.options.recursive else []), mode, path]
        await self._run("chmod", path, argv)
        return rs.Ok()
