"""``python -m lab``: the same as the ``stemma-lab`` command."""

import sys

from .cli import main

sys.exit(main())
