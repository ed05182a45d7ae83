"""``python -m s2sgrad``: the s2sgrad command line (see ``s2sgrad.cli``)."""

import sys

from .cli import main

sys.exit(main())
