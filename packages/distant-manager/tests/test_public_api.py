"""Pins the public API of distant_manager, and keeps the blocking client free of anyio."""

import subprocess
import sys

import distant_manager


def test_exports_resolve() -> None:
    for name in distant_manager.__all__:
        assert getattr(distant_manager, name) is not None, name
    assert len(set(distant_manager.__all__)) == len(distant_manager.__all__)


def test_blocking_client_imports_no_event_loop() -> None:
    code = (
        "import sys\n"
        "from distant_manager import BlockingManagerClient, candidate_socket_paths\n"
        "bad = sorted(m for m in ('anyio', 'trio', 'asyncio', 'distant_server') "
        "if m in sys.modules)\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_one_shot_manager_request_loads_no_crypto_or_event_loop(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The CLI's fast path: a full handshake and a request on the manager socket without
    importing cryptography (about 15 ms) or an event loop."""
    from .harness import running_manager

    code = (
        "import sys\n"
        "from distant_manager import BlockingManagerClient\n"
        "with BlockingManagerClient.connect([sys.argv[1]]) as client:\n"
        "    assert client.version()\n"
        "bad = sorted(m for m in sys.modules\n"
        "             if m.split('.')[0] in ('cryptography', 'anyio', 'trio', 'asyncio'))\n"
        "assert not bad, bad\n"
    )
    with running_manager(tmp_path) as manager:
        subprocess.run([sys.executable, "-c", code, manager.path], check=True, timeout=60)
