"""The click form of ``distant fs ...``; the work is done by :mod:`.fs`."""

from __future__ import annotations

import click

from distant_cli.commands import fs
from distant_cli.options import common_options, connection_option, get_globals

__all__ = ["fs_group"]

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
CHANGE_KINDS = (
    "access, attribute, close_write, close_no_write, create, delete, modify, open, rename, unknown"
)
U64 = click.IntRange(0, 2**64 - 1)


def _done(code: int) -> None:
    raise SystemExit(code)


@click.group("fs", context_settings=CONTEXT)
def fs_group() -> None:
    """Subcommands for file system operations."""


@fs_group.command("copy", context_settings=CONTEXT)
@click.argument("src")
@click.argument("dst")
@connection_option
@common_options
def copy_command(src: str, dst: str, connection: int | None) -> None:
    """Copies a file or directory on the remote machine."""
    _done(fs.fs_copy(get_globals(), connection, src, dst))


@fs_group.command("exists", context_settings=CONTEXT)
@click.argument("path")
@connection_option
@common_options
def exists_command(path: str, connection: int | None) -> None:
    """Checks whether the path exists on the remote machine."""
    _done(fs.fs_exists(get_globals(), connection, path))


@fs_group.command("make-dir", context_settings=CONTEXT)
@click.argument("path")
@click.option("--all", "all_", is_flag=True, help="Make all missing parent directories")
@connection_option
@common_options
def make_dir_command(path: str, all_: bool, connection: int | None) -> None:
    """Creates a directory on the remote machine."""
    _done(fs.fs_make_dir(get_globals(), connection, path, all=all_))


@fs_group.command("metadata", context_settings=CONTEXT)
@click.argument("path")
@click.option(
    "--canonicalize",
    is_flag=True,
    help="Include a canonicalized version of the path (symlinks resolved)",
)
@click.option(
    "--resolve-file-type",
    is_flag=True,
    help="Report the type of a symlink's target instead of the symlink",
)
@connection_option
@common_options
def metadata_command(
    *, path: str, canonicalize: bool, resolve_file_type: bool, connection: int | None
) -> None:
    """Retrieves metadata for the specified path on the remote machine."""
    _done(
        fs.fs_metadata(
            get_globals(),
            connection,
            path,
            canonicalize=canonicalize,
            resolve_file_type=resolve_file_type,
        )
    )


@fs_group.command("read", context_settings=CONTEXT)
@click.argument("path")
@click.option(
    "--depth",
    type=U64,
    default=1,
    show_default=True,
    help="Maximum depth to traverse a directory (0 = unlimited)",
)
@click.option("--absolute", is_flag=True, help="Return absolute paths for directory entries")
@click.option("--canonicalize", is_flag=True, help="Canonicalize directory entry paths")
@click.option("--include-root", is_flag=True, help="Include the directory itself as an entry")
@connection_option
@common_options
def read_command(
    *,
    path: str,
    depth: int,
    absolute: bool,
    canonicalize: bool,
    include_root: bool,
    connection: int | None,
) -> None:
    """Reads a file's contents or a directory's entries on the remote machine."""
    _done(
        fs.fs_read(
            get_globals(),
            connection,
            path,
            depth=depth,
            absolute=absolute,
            canonicalize=canonicalize,
            include_root=include_root,
        )
    )


@fs_group.command("remove", context_settings=CONTEXT)
@click.argument("path")
@click.option("--force", is_flag=True, help="Remove a non-empty directory and its contents")
@connection_option
@common_options
def remove_command(path: str, force: bool, connection: int | None) -> None:
    """Removes a file or directory on the remote machine."""
    _done(fs.fs_remove(get_globals(), connection, path, force=force))


@fs_group.command("rename", context_settings=CONTEXT)
@click.argument("src")
@click.argument("dst")
@connection_option
@common_options
def rename_command(src: str, dst: str, connection: int | None) -> None:
    """Moves or renames a file or directory on the remote machine."""
    _done(fs.fs_rename(get_globals(), connection, src, dst))


@fs_group.command("search", context_settings=CONTEXT)
@click.argument("pattern")
@click.argument("paths", nargs=-1)
@click.option(
    "--target",
    type=click.Choice(["contents", "path"]),
    default="contents",
    show_default=True,
    help="Kind of data to examine using the pattern",
)
@click.option("--include", metavar="REGEX", help="Only search paths that match this regex")
@click.option("--exclude", metavar="REGEX", help="Skip paths that match this regex")
@click.option(
    "--upward", is_flag=True, help="Search upward through parent directories instead of downward"
)
@click.option("--follow-symbolic-links", is_flag=True, help="Follow symbolic links")
@click.option("--limit", type=U64, help="Maximum number of results")
@click.option("--max-depth", type=U64, help="Maximum depth (directories) to search")
@click.option("--pagination", type=U64, help="Results per batch sent back")
@click.option("--ignore-hidden", is_flag=True, help="Skip hidden files and directories")
@click.option("--use-ignore-files", is_flag=True, help="Honour .ignore files")
@click.option(
    "--use-parent-ignore-files", is_flag=True, help="Honour ignore files of parent directories"
)
@click.option("--use-git-ignore-files", is_flag=True, help="Honour .gitignore files")
@click.option(
    "--use-global-git-ignore-files", is_flag=True, help="Honour the global gitignore file"
)
@click.option("--use-git-exclude-files", is_flag=True, help="Honour .git/info/exclude")
@connection_option
@common_options
def search_command(
    *,
    pattern: str,
    paths: tuple[str, ...],
    target: str,
    include: str | None,
    exclude: str | None,
    upward: bool,
    follow_symbolic_links: bool,
    limit: int | None,
    max_depth: int | None,
    pagination: int | None,
    ignore_hidden: bool,
    use_ignore_files: bool,
    use_parent_ignore_files: bool,
    use_git_ignore_files: bool,
    use_global_git_ignore_files: bool,
    use_git_exclude_files: bool,
    connection: int | None,
) -> None:
    """Searches PATHS (default: the current directory) for PATTERN, a regex."""
    _done(
        fs.fs_search(
            get_globals(),
            connection,
            pattern,
            paths,
            target=target,
            include=include,
            exclude=exclude,
            upward=upward,
            follow_symbolic_links=follow_symbolic_links,
            limit=limit,
            max_depth=max_depth,
            pagination=pagination,
            ignore_hidden=ignore_hidden,
            use_ignore_files=use_ignore_files,
            use_parent_ignore_files=use_parent_ignore_files,
            use_git_ignore_files=use_git_ignore_files,
            use_global_git_ignore_files=use_global_git_ignore_files,
            use_git_exclude_files=use_git_exclude_files,
        )
    )


@fs_group.command(
    "set-permissions",
    context_settings={**CONTEXT, "ignore_unknown_options": True},
)
@click.argument("mode")
@click.argument("path")
@click.option("-R", "--recursive", is_flag=True, help="Apply to directories recursively")
@click.option("-L", "--follow-symlinks", is_flag=True, help="Follow symbolic links")
@connection_option
@common_options
def set_permissions_command(
    *, mode: str, path: str, recursive: bool, follow_symlinks: bool, connection: int | None
) -> None:
    """Sets permissions: MODE is readonly, notreadonly, octal (755) or symbolic (u+x)."""
    _done(
        fs.fs_set_permissions(
            get_globals(),
            connection,
            mode,
            path,
            recursive=recursive,
            follow_symlinks=follow_symlinks,
        )
    )


@fs_group.command("watch", context_settings=CONTEXT)
@click.argument("path")
@click.option("--recursive", is_flag=True, help="Watch a directory's subdirectories too")
@click.option(
    "--only",
    multiple=True,
    metavar="KIND",
    help=f"Only report these change kinds (repeatable or comma-separated: {CHANGE_KINDS})",
)
@click.option(
    "--except",
    "except_",
    multiple=True,
    metavar="KIND",
    help="Never report these change kinds (repeatable or comma-separated)",
)
@connection_option
@common_options
def watch_command(
    *,
    path: str,
    recursive: bool,
    only: tuple[str, ...],
    except_: tuple[str, ...],
    connection: int | None,
) -> None:
    """Watches a path for changes, printing one line per change."""
    _done(
        fs.fs_watch(
            get_globals(), connection, path, recursive=recursive, only=only, except_=except_
        )
    )


@fs_group.command("write", context_settings=CONTEXT)
@click.argument("path")
@click.argument("data", required=False)
@click.option("--append", is_flag=True, help="Append instead of overwriting")
@connection_option
@common_options
def write_command(path: str, data: str | None, append: bool, connection: int | None) -> None:
    """Writes DATA (or stdin when absent) to a file on the remote machine."""
    _done(fs.fs_write(get_globals(), connection, path, data, append=append))
