"""The frozen ``stemma-app``: the same entry point as the installed GUI script."""

import sys

from app.main import main

sys.exit(main())
