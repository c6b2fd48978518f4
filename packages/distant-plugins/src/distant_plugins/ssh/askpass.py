"""The ``SSH_ASKPASS`` program of the openssh backend (stdlib only, run as a script).

``ssh`` runs ``$SSH_ASKPASS "<prompt>"`` whenever it needs an answer: a key passphrase, a
password, a keyboard-interactive question, or a yes/no confirmation of an unknown host key.
This program relays the prompt to the session that started ``ssh`` over the Unix socket
named by :data:`SOCKET_ENV` and prints the answer, so the prompt reaches the distant user
through the manager's auth relay (never a terminal).

Wire format (one exchange per connection): the program sends ``hint NUL prompt`` (UTF-8,
``hint`` is ``$SSH_ASKPASS_PROMPT``, usually empty) and shuts down its side; the session
answers ``b"1" + answer`` to accept or ``b"0"`` to refuse, and this program exits with
status 1 on a refusal (ssh then treats the prompt as cancelled).
"""

from __future__ import annotations

import os
import socket
import sys

SOCKET_ENV = "DISTANT_SSH_ASKPASS_SOCKET"


def main(argv: list[str]) -> int:
    prompt = argv[1] if len(argv) > 1 else ""
    path = os.environ.get(SOCKET_ENV)
    if not path:
        print("distant askpass: no relay socket", file=sys.stderr)
        return 1
    hint = os.environ.get("SSH_ASKPASS_PROMPT", "")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(path)
            sock.sendall(f"{hint}\0{prompt}".encode("utf-8", "surrogateescape"))
            sock.shutdown(socket.SHUT_WR)
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
    except OSError as exc:
        print(f"distant askpass: {exc}", file=sys.stderr)
        return 1
    reply = b"".join(chunks)
    if not reply.startswith(b"1"):
        return 1
    sys.stdout.write(reply[1:].decode("utf-8", "surrogateescape") + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
