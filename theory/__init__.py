r"""Symbolic derivations of layer formulas (SymPy), one module per topic.

* :mod:`theory.linear` — dense, low-rank and block-sparse layers.
* :mod:`theory.conv` — convolution and pooling geometry, costs, receptive fields.
* :mod:`theory.ledger` — the claim ledger (``theory/claims/*.yaml``).

Helpers take ints (returning exact ints or :class:`sympy.Rational`) or SymPy expressions
(returning exact expressions); invalid arguments raise ``TypeError``/``ValueError`` naming
the argument.
"""
