"""NumPy kernels (float32/float64), forward and hand-written backward.

* :mod:`kernels.cpu.linear` — dense (``F.linear``: any rank), low-rank and block-sparse linear
  layers.
* :mod:`kernels.cpu.conv` — ``conv1d``, ``conv2d``, ``conv_transpose1d``, ``conv_transpose2d``
  with torch's arguments, forward and backward: the float64 reference (strided view + einsum).
* :mod:`kernels.cpu.conv2d` — 2-D convolution: a direct version and an im2col version.
* :mod:`kernels.cpu.conv1d`, :mod:`kernels.cpu.conv2d_matrix` — convolution as Toeplitz and
  circulant (FFT) matrices.
* :mod:`kernels.cpu.pool`, :mod:`kernels.cpu.norm` — pooling and normalization with torch's
  ``torch.nn.functional`` signatures, forward and backward.
* :mod:`kernels.cpu.attention` — softmax, ``scaled_dot_product_attention`` and
  ``multi_head_attention`` (torch's arguments and mask conventions) with hand-written backward;
  sinusoidal, learned and relative positional encodings; linear attention and sparse masks.
* :mod:`kernels.cpu.embedding`, :mod:`kernels.cpu.recurrent` — ``F.embedding`` and the RNN,
  LSTM and GRU cells and single-layer sequences in torch's layout (both GRU forms), with
  scatter-add and backpropagation-through-time backward.
* :mod:`kernels.cpu.residual` — a residual (or plain) MLP stack with hand-written backward and
  its explicit sum over the :math:`2^L` paths.
* :mod:`kernels.cpu.dropout` — dropout (element-wise, ``dropout1d/2d/3d``), DropConnect,
  stochastic depth and DropBlock with seeded ``numpy.random.Generator`` masks, training and
  evaluation modes, forward and backward.
* :mod:`kernels.cpu.optim` — optimizer steps as in ``torch.optim`` (SGD with momentum and
  coupled weight decay, SGDW, Adam, AdamW) and the L1 subgradient and proximal (ISTA) steps.
* :mod:`kernels.cpu.mlp` — a bias-free MLP stack, forward and backward.
* :mod:`kernels.cpu.layers` — small layer objects that own their parameters.

Every product goes through :mod:`numerics.opcount`, so a :class:`numerics.opcount.MacCounter`
sees the multiply-accumulates a kernel really executes. Arguments are checked by
:mod:`kernels.cpu._check` (TypeError/ValueError naming the argument; buffers bounded by
``MAX_ELEMENTS``).
"""
