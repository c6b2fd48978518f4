"""``python -m distant_server listen …``: the same as the ``distant-server`` entry point."""

import sys

from .cli import main

sys.exit(main())
