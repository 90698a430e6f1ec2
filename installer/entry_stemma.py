"""The frozen ``stemma`` command: the same entry point as the installed console script."""

import sys

from engine.cli import main

sys.exit(main())
