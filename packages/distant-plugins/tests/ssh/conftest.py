"""The ssh tests' private OpenSSH sshd: one per test session (``tests/support/sshd.py``),
skipped where sshd cannot run (not root, no openssh-server)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from tests.support.sshd import SSHD, PrivateSshd


@pytest.fixture(scope="session")
def private_sshd() -> Iterator[PrivateSshd]:
    if not os.path.exists(SSHD) or os.geteuid() != 0:
        pytest.skip("needs root and openssh-server (apt-get install openssh-server)")
    with PrivateSshd() as sshd:
        yield sshd
