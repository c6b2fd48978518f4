"""Build, lint, type-check, test and benchmark every package of the distant monorepo.

Sessions:
  tests-<package>   the tests of one package (e.g. ``nox -s tests-distant-codec``)
  integration       the cross-package tests in ``tests/``
  lint              ruff check + ruff format --check
  typecheck         mypy --strict on every package's src/
  build             an sdist and a wheel of every package, with hatch, into dist/
  bench             the side-by-side benchmarks in ``benchmarks/``
"""

from __future__ import annotations

from pathlib import Path

import nox

ROOT = Path(__file__).parent
PACKAGES = [
    "distant-codec",
    "distant-auth",
    "distant-net",
    "distant-server",
    "distant-manager",
    "distant-plugins",
    "distant-cli",
]
TEST_DEPS = ["pytest", "pytest-timeout", "hypothesis", "pynacl"]
DEV_REQUIREMENTS = ROOT / "requirements-dev.txt"

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["lint", "typecheck", "tests"]


def _install_all(session: nox.Session) -> None:
    session.install("-r", str(DEV_REQUIREMENTS))


@nox.session(name="tests")
@nox.parametrize("package", PACKAGES, ids=PACKAGES)
def tests(session: nox.Session, package: str) -> None:
    """Run one package's tests against an editable install of the monorepo."""
    _install_all(session)
    session.run("pytest", f"packages/{package}/tests", *session.posargs)


@nox.session
def integration(session: nox.Session) -> None:
    _install_all(session)
    session.run("pytest", "tests", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    _install_all(session)
    session.install("mypy")
    session.run("mypy", *[f"packages/{p}/src" for p in PACKAGES])


@nox.session(venv_backend="virtualenv")  # hatch inside a uv-made venv skips its build deps
def build(session: nox.Session) -> None:
    """An sdist and a wheel for every package, each built in isolation by hatch."""
    session.install("hatch")
    out = ROOT / "dist"
    # hatch keeps its build environments in a per-user data directory; a stale one there
    # (an interrupted earlier build) breaks later builds, so this session uses its own.
    env = {"HATCH_DATA_DIR": str(ROOT / ".nox" / "hatch-data")}
    for package in PACKAGES:
        with session.chdir(ROOT / "packages" / package):
            session.run("hatch", "build", "-t", "sdist", "-t", "wheel", str(out), env=env)
    session.log(f"artifacts in {out}")


@nox.session
def bench(session: nox.Session) -> None:
    _install_all(session)
    session.run("python", "benchmarks/run.py", *session.posargs)
