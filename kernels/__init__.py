"""Layers as code, independent of torch: :mod:`kernels.cpu` holds the NumPy references.

GPU (Triton) kernels with the same API come with later work; nothing here imports torch.
"""
