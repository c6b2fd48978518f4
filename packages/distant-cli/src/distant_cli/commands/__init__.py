"""The commands of the ``distant`` CLI.

Each command is a plain function ``name(g: Globals, ...) -> int`` (the exit code) that
neither imports click nor anyio, so that the fast path (:mod:`distant_cli.fastpath`) can
run it without loading the click application. The click commands (in
:mod:`distant_cli.app` and in the channel-command modules) parse the flags and call the
same functions.

* :mod:`.info`: ``version``, ``system-info``
* :mod:`.manage`: ``connect``, ``launch``, ``status``, ``kill``, ``select``
* :mod:`.api`: ``api``
* :mod:`.daemons`: ``manager listen``, ``manager version``, ``server listen``
* :mod:`.generate`: ``generate config``, ``generate completion``
* :mod:`.fs`, :mod:`.copy`, :mod:`.spawn`, :mod:`.tunnel`, :mod:`.terminal`: the channel
  commands (``fs *``, ``copy``, ``spawn``, ``shell``, ``ssh``, ``tunnel *``). The fast path
  calls ``fs_exists``, ``fs_metadata``, ``fs_read``, ``fs_write``, ``fs_make_dir``,
  ``fs_remove``, ``fs_copy`` and ``fs_rename`` from :mod:`.fs`, which must therefore not
  import click at module level.
"""
