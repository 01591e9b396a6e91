"""``python -m layercheck``: the same as the ``layercheck`` command."""

import sys

from layercheck.cli import main

sys.exit(main())
