"""``python -m distant_cli``: the ``distant`` command."""

from distant_cli.main import main

raise SystemExit(main())
