"""Pins the public API of distant_plugins, and keeps its import cheap."""

import subprocess
import sys

import distant_plugins

EXPECTED = {
    "builtin_plugins", "serve_api", "SshPlugin", "SshApi", "SshSession", "SshTarget",
    "DockerPlugin", "DockerApi", "CommandSearcher", "RunCommand", "probe_tools",
    "ExternalPlugin", "ExternalPluginError", "PluginConfigError", "PluginSpec",
    "load_plugin_specs", "build_external_plugins",
}  # fmt: skip


def test_exports_resolve() -> None:
    assert set(distant_plugins.__all__) == EXPECTED
    assert len(set(distant_plugins.__all__)) == len(distant_plugins.__all__)
    for name in distant_plugins.__all__:
        assert getattr(distant_plugins, name) is not None, name
    assert distant_plugins.__doc__


def test_builtin_plugins_cover_ssh_and_docker() -> None:
    schemes = {s for plugin in distant_plugins.builtin_plugins() for s in plugin.schemes}
    assert schemes == {"ssh", "docker"}


def test_import_loads_no_backend_library() -> None:
    """asyncssh and the docker SDK load only when a connection uses them; registering the
    plugins (what ``manager listen`` does) must not import them either."""
    code = (
        "import sys, distant_plugins\n"
        "distant_plugins.builtin_plugins()\n"
        "bad = sorted(m for m in ('asyncssh', 'docker', 'trio_asyncio') if m in sys.modules)\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
