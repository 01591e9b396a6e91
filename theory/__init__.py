r"""Symbolic derivations of layer formulas (SymPy), one module per topic.

* :mod:`theory.linear` — dense, low-rank and block-sparse layers.
* :mod:`theory.conv` — convolution and pooling geometry, costs, receptive fields.
* :mod:`theory.pooling` — adaptive-pooling windows, stride reduction, invariance, injectivity.
* :mod:`theory.derivation` — the :class:`~theory.derivation.Derivation` record tests and docs read.
* :mod:`theory.ledger` — the claim ledger (``theory/claims/*.yaml``).

Helpers take ints (returning exact ints or :class:`sympy.Rational`) or SymPy expressions
(returning exact expressions); invalid arguments raise ``TypeError``/``ValueError`` naming
the argument and what is allowed. Exactly what counts as a valid integer argument (NumPy
integers yes; floats, even ``3.0``, bools, ``nan``/``oo``/``zoo`` no; symbols unless known
to be out of range) is stated in :mod:`theory._args`. Helpers that enumerate take concrete
integers and refuse requests above ``theory._args.MAX_ITEMS`` items at once.
"""
