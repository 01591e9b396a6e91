"""NumPy kernels (float32/float64), forward and hand-written backward.

* :mod:`kernels.cpu.linear` — dense, low-rank and block-sparse linear layers.
* :mod:`kernels.cpu.conv2d` — 2-D convolution: a direct reference and an im2col version.
* :mod:`kernels.cpu.layers` — small layer objects that own their parameters.

Every product goes through :mod:`numerics.opcount`, so a :class:`numerics.opcount.MacCounter`
sees the multiply-accumulates a kernel really executes.
"""
