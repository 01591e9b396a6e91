"""``python -m layercheck``: the same as the ``layercheck`` command."""

from layercheck.cli import _console

_console()
