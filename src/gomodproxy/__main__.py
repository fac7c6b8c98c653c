"""``python -m gomodproxy``."""

import sys

from gomodproxy.cli.main import main

sys.exit(main())
