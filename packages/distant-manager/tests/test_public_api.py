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
