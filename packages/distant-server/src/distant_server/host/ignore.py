"""Ignore files for ``search`` (§7.5 options), with ripgrep's (the ``ignore`` crate's) rules.

Every function here does blocking file I/O: call it from a worker thread.

* ``.ignore`` and ``.gitignore`` files use gitignore syntax (pathspec's ``GitIgnoreSpec``),
  relative to the directory that holds them; a nested file applies to its subtree.
* The nearest directory with a matching pattern decides; inside one file the last matching
  pattern wins, so ``!pattern`` re-includes. Across kinds the precedence is ``.ignore`` >
  ``.gitignore`` > ``.git/info/exclude`` > the global gitignore.
* The three git kinds apply only inside a git repository (a directory, or one of its
  ancestors, holding a ``.git`` file or directory), and ``.gitignore`` files above the
  repository root are not used (ripgrep's ``require_git``).
* Ignore files in the *ancestors* of a search root are read only with
  ``use_parent_ignore_files`` (ripgrep's ``parents``): their ``.ignore`` files always (the
  option's documented meaning), and their ``.gitignore`` / ``.git/info/exclude`` files when
  the matching git option is on too.
* The global gitignore is git's ``core.excludesFile`` (read from ``~/.gitconfig`` or
  ``$XDG_CONFIG_HOME/git/config``), else ``$XDG_CONFIG_HOME/git/ignore`` (XDG defaulting to
  ``~/.config``); its patterns are relative to the repository root.
* ``ignore_hidden`` skips names starting with ``.`` unless an ignore file re-includes them.
* A search root itself is never ignored; an ignored directory is not descended into.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from pathspec import GitIgnoreSpec

__all__ = ["IgnoreOptions", "IgnoreRules", "IgnoreLevel", "global_gitignore_path"]


@dataclass(frozen=True, slots=True)
class IgnoreOptions:
    hidden: bool = False
    ignore: bool = False
    parents: bool = False
    git_ignore: bool = False
    git_global: bool = False
    git_exclude: bool = False

    @property
    def any_files(self) -> bool:
        """Whether any ignore *file* is consulted (``hidden`` needs none)."""
        return self.ignore or self.parents or self.git_ignore or self.git_global or self.git_exclude

    @property
    def any_git(self) -> bool:
        return self.git_ignore or self.git_global or self.git_exclude


class _IgnoreFile:
    """One gitignore-syntax pattern list, relative to ``base`` (an absolute directory)."""

    __slots__ = ("prefix", "spec")

    def __init__(self, base: str, spec: GitIgnoreSpec) -> None:
        self.prefix = base if base.endswith("/") else base + "/"
        self.spec = spec

    def match(self, abs_path: str, is_dir: bool) -> bool | None:
        """True: ignored; False: re-included (``!pattern``); None: no pattern matched."""
        if not abs_path.startswith(self.prefix):
            return None
        rel = abs_path[len(self.prefix) :]
        if not rel:
            return None
        if is_dir:
            rel += "/"
        return self.spec.check_file(rel).include


def _load(path: str, base: str) -> _IgnoreFile | None:
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            lines = f.read().splitlines()
    except (OSError, ValueError):
        return None
    try:
        spec = GitIgnoreSpec.from_lines(lines)
    except Exception:  # a pattern pathspec cannot parse: ignore the file, as git mostly does
        return None
    if all(p.include is None for p in spec.patterns):
        return None
    return _IgnoreFile(base, spec)


def _git_dir(dot_git: str) -> str | None:
    """The git directory of a ``.git`` entry: itself, or where its ``gitdir:`` file points
    (worktrees and submodules), following ``commondir`` to the shared repository."""
    if os.path.isdir(dot_git):
        git_dir = dot_git
    else:
        try:
            with open(dot_git, encoding="utf-8", errors="replace") as f:
                first = f.readline().strip()
        except OSError:
            return None
        if not first.startswith("gitdir:"):
            return None
        git_dir = os.path.join(os.path.dirname(dot_git), first[len("gitdir:") :].strip())
    try:
        with open(os.path.join(git_dir, "commondir"), encoding="utf-8", errors="replace") as f:
            common = f.readline().strip()
        if common:
            git_dir = os.path.join(git_dir, common)
    except OSError:
        pass
    return git_dir


def global_gitignore_path() -> str | None:
    """Where git's global excludes file is (whether or not it exists)."""
    home = os.path.expanduser("~")
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    found: str | None = None
    # git reads the XDG config before ~/.gitconfig, so the latter wins.
    for config in (os.path.join(xdg, "git", "config"), os.path.join(home, ".gitconfig")):
        value = _config_excludes_file(config)
        if value is not None:
            found = value
    if found is None:
        return os.path.join(xdg, "git", "ignore")
    return os.path.expanduser(found)


def _config_excludes_file(config: str) -> str | None:
    try:
        with open(config, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return None
    section = ""
    value: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = line[1 : line.find("]")].strip().lower() if "]" in line else ""
            continue
        if section != "core" or "=" not in line:
            continue
        key, _, val = line.partition("=")
        if key.strip().lower() != "excludesfile":
            continue
        val = val.strip()
        if len(val) >= 2 and val[0] == val[-1] == '"':
            val = val[1:-1]
        value = val or None
    return value


class IgnoreLevel:
    """The ignore files of one directory, linked to its parent directory's level."""

    __slots__ = (
        "any_git",
        "directory",
        "exclude",
        "git_root",
        "gitignore",
        "has_git",
        "ignore",
        "is_parent",
        "parent",
        "rules",
    )

    def __init__(
        self, rules: IgnoreRules, directory: str, parent: IgnoreLevel | None, is_parent: bool
    ) -> None:
        opts = rules.options
        self.rules = rules
        self.directory = directory
        self.parent = parent
        self.is_parent = is_parent
        dot_git = os.path.join(directory, ".git")
        self.has_git = opts.any_git and os.path.lexists(dot_git)
        self.any_git: bool = self.has_git or (parent is not None and parent.any_git)
        self.git_root: str | None = (
            directory if self.has_git else (parent.git_root if parent is not None else None)
        )
        read = not is_parent or opts.parents
        self.ignore = (
            _load(os.path.join(directory, ".ignore"), directory)
            if (opts.parents if is_parent else opts.ignore)
            else None
        )
        self.gitignore = (
            _load(os.path.join(directory, ".gitignore"), directory)
            if read and opts.git_ignore
            else None
        )
        self.exclude: _IgnoreFile | None = None
        if read and opts.git_exclude and self.has_git:
            git_dir = _git_dir(dot_git)
            if git_dir is not None:
                self.exclude = _load(os.path.join(git_dir, "info", "exclude"), directory)

    def child(self, directory: str) -> IgnoreLevel:
        """The level of ``directory``, a subdirectory (absolute path) being walked."""
        return IgnoreLevel(self.rules, directory, self, is_parent=False)

    def skip(self, abs_path: str, name: str, is_dir: bool) -> bool:
        """Whether the walker skips this entry of the level's directory."""
        rules = self.rules
        opts = rules.options
        decided: bool | None = None
        if rules.consult:
            decided = self._matched(abs_path, is_dir)
        if decided is None:
            return opts.hidden and name.startswith(".")
        return decided

    def _matched(self, abs_path: str, is_dir: bool) -> bool | None:
        m_ignore: bool | None = None
        m_git: bool | None = None
        m_exclude: bool | None = None
        any_git = self.any_git
        saw_git = False
        parents = self.rules.options.parents
        level: IgnoreLevel | None = self
        while level is not None:
            if level.is_parent and not parents:
                break
            if m_ignore is None and level.ignore is not None:
                m_ignore = level.ignore.match(abs_path, is_dir)
            if any_git and not saw_git:
                if m_git is None and level.gitignore is not None:
                    m_git = level.gitignore.match(abs_path, is_dir)
                if m_exclude is None and level.exclude is not None:
                    m_exclude = level.exclude.match(abs_path, is_dir)
            saw_git = saw_git or level.has_git
            level = level.parent
        for m in (m_ignore, m_git, m_exclude):
            if m is not None:
                return m
        if any_git and self.rules.global_spec is not None and self.git_root is not None:
            return _IgnoreFile(self.git_root, self.rules.global_spec).match(abs_path, is_dir)
        return None


class IgnoreRules:
    """The ignore configuration of one search: builds the level of each search root."""

    def __init__(self, options: IgnoreOptions) -> None:
        self.options = options
        self.consult = options.any_files
        self.global_spec: GitIgnoreSpec | None = None
        if options.git_global:
            path = global_gitignore_path()
            loaded = _load(path, "/") if path is not None else None
            self.global_spec = loaded.spec if loaded is not None else None
        self._ancestors: dict[str, IgnoreLevel | None] = {}

    def root(self, abs_dir: str) -> IgnoreLevel:
        """The level of a search root directory (absolute), with its ancestors' levels."""
        up = os.path.dirname(abs_dir)
        parent = self._ancestor(up) if up != abs_dir else None
        return IgnoreLevel(self, abs_dir, parent, is_parent=False)

    def _ancestor(self, directory: str) -> IgnoreLevel | None:
        if not self.consult:
            return None
        if directory in self._ancestors:
            return self._ancestors[directory]
        up = os.path.dirname(directory)
        parent = self._ancestor(up) if up != directory else None
        level = IgnoreLevel(self, directory, parent, is_parent=True)
        self._ancestors[directory] = level
        return level
