"""layercheck's command line and verdict report.

``layercheck`` (console script; also ``python -m layercheck``) lists, shows and checks the
ledger's claims, writes the verdict report and builds the site; see :mod:`layercheck.cli`.
The report's format is :mod:`layercheck.report`.
"""
