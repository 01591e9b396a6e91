"""Bad-input entries for :mod:`kernels.gpu.linear` (torch tensors on the kernels' device: the
CPU under Triton's interpreter, CUDA on a GPU; the table skips them where no kernel can run).

The valid samples are also what ``tests/gpu_compile.py`` launches in four dtypes and compiles
for sm_90, so together they reach every kernel and path: bias and no bias, a 1-D weight,
``K`` a multiple of the tile and not (``EVEN_K``), the three backward products and the column
sum, the block-sparse kernel with stored blocks (float32) and with none (every dtype: the
recorder casts only top-level tensors, not the tensors inside ``blocks``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from tests.badinput.table import Entry, ErrorSample, Sample
from tests.gpu_support import DEV

_GEN = torch.Generator().manual_seed(16)


def _r(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=_GEN).to(DEV)


X = _r(2, 3, 20)  # (*, n): K = 20 is not a multiple of the tile
W = _r(17, 20)
B = _r(17)
G = _r(2, 3, 17)
XE = _r(4, 32)  # K = 32 and m = 16: multiples of the interpreter's tile (EVEN_K)
WE = _r(16, 32)
GE = _r(4, 16)
X1 = _r(20)  # 1-D input with a 1-D weight: a 0-d output and a 0-d bias
W1 = _r(20)
B0 = _r(())
U = _r(17, 5)  # low rank: u (m, r), v (r, n)
V = _r(5, 20)
XB = _r(5, 23)  # block sparse: rows (17, 20), cols (14, 9)
BLOCKS = {(0, 1): _r(17, 9), (1, 0): _r(20, 14)}
BB = _r(37)
SIZES = {"row_sizes": (17, 20), "col_sizes": (14, 9)}
XA = _r(3, 48)  # block sizes multiples of 16: the kernel's ALIGNED path
ALIGNED = {"row_sizes": (16, 32), "col_sizes": (32, 16)}
BLOCKS_A = {(1, 0): _r(32, 32), (0, 1): _r(16, 16)}
P = "kernels.gpu.linear."


def _dense_blocks() -> torch.Tensor:
    w = torch.zeros(37, 23, dtype=torch.float64, device=DEV)
    w[0:17, 14:23] = BLOCKS[(0, 1)].double()
    w[17:37, 0:14] = BLOCKS[(1, 0)].double()
    return w


def _close(expected: torch.Tensor):
    """The result against a float64 value, at float32's tolerance (the samples' dtype)."""

    def check(result):
        assert result.shape == expected.shape, (result.shape, expected.shape)
        assert torch.allclose(result.double(), expected, rtol=1e-5, atol=1e-5), (result, expected)

    return check


def _grads(g: torch.Tensor, *forward: torch.Tensor | None, lowrank: bool = False):
    """Compare with torch's float64 autograd of the forward (F.linear, or the factorised one)."""
    ts = [None if t is None else t.double().requires_grad_() for t in forward]
    if lowrank:
        x, u, v, b = ts
        y = F.linear(F.linear(x, v), u, b)
    else:
        y = F.linear(*ts)
    y.backward(g.double())
    expected = [None if t is None else t.grad for t in ts]

    def check(result):
        for ours, theirs in zip(result, expected, strict=True):
            if theirs is None:
                assert ours is None
            else:
                _close(theirs)(ours)

    return check


def _packed(**kwargs):
    """The packed weight as a comparable dict (the table compares results with ==)."""
    from kernels.gpu.linear import BlockSparseWeight

    def make(*args, **kw):
        w = BlockSparseWeight(*args, **kw)
        return {
            "row_sizes": w.row_sizes,
            "col_sizes": w.col_sizes,
            "stored": w.stored,
            "shape": w.shape,
            "macs_per_row": w.macs_per_row,
            "data": w.data,
        }

    return make


class _Packed:
    """Stands for ``BlockSparseWeight(BLOCKS, (17, 20), (14, 9))`` in a sample: the packed
    weight lives on the kernels' device, which a machine without kernels does not have, so it
    is built at call time (by :func:`_block_sparse`)."""

    def __deepcopy__(self, memo):
        return self


PACKED = _Packed()


def _block_sparse():
    """``block_sparse_linear`` with :data:`PACKED` replaced by the packed weight."""
    from kernels.gpu.linear import BlockSparseWeight, block_sparse_linear

    def call(*args, **kwargs):
        if isinstance(kwargs.get("blocks"), _Packed):
            kwargs["blocks"] = BlockSparseWeight(BLOCKS, (17, 20), (14, 9))
        return block_sparse_linear(*args, **kwargs)

    return call


ENTRIES = [
    Entry(
        P + "linear",
        samples=(
            Sample(
                {"input": X, "weight": W, "bias": B},
                check=_close(X.double() @ W.double().T + B.double()),
            ),
            Sample({"input": XE, "weight": WE}, check=_close(XE.double() @ WE.double().T)),
            Sample(
                {"input": X1, "weight": W1, "bias": B0},
                check=_close(X1.double() @ W1.double() + B0.double()),
            ),
            Sample({"input": X[:0], "weight": W}, check=lambda r: r.shape == (0, 3, 17)),
        ),
        errors=(
            ErrorSample({"input": X, "weight": W[:, :3]}, ValueError, "weight"),
            ErrorSample({"input": X, "weight": W, "bias": B[:2]}, ValueError, "bias"),
            ErrorSample(
                {"input": X, "weight": W, "bias": B[None]},
                ValueError,
                "bias",
                note="torch broadcasts a (1, m) bias; the CPU kernel and this one do not",
            ),
            ErrorSample(
                {"input": X, "weight": W, "bias": B[:1]},
                ValueError,
                "bias",
                note="torch broadcasts a (1,) bias; the CPU kernel and this one do not",
            ),
            ErrorSample({"input": X.tolist(), "weight": W}, TypeError, "input"),
            ErrorSample({"input": X.long(), "weight": W}, TypeError, "input"),
            ErrorSample({"input": X, "weight": W.double()}, TypeError, "weight"),
            ErrorSample({"input": _r(()), "weight": W}, ValueError, "input"),
            ErrorSample({"input": X[..., :0], "weight": W[:, :0]}, ValueError, "input"),
            ErrorSample({"input": X, "weight": W[:0]}, ValueError, "weight"),
            ErrorSample({"input": X, "weight": W.clone().requires_grad_()}, ValueError, "weight"),
        ),
    ),
    Entry(
        P + "linear_backward",
        samples=(
            Sample(
                {"grad_output": G, "input": X, "weight": W, "bias": True}, check=_grads(G, X, W, B)
            ),
            Sample(
                {"grad_output": G, "input": X, "weight": W, "bias": B}, check=_grads(G, X, W, B)
            ),
            Sample(
                {"grad_output": GE, "input": XE, "weight": WE, "bias": None},
                check=_grads(GE, XE, WE, None),
            ),
            Sample(
                {"grad_output": B0, "input": X1, "weight": W1, "bias": True},
                check=_grads(B0, X1, W1, B0),
            ),
            Sample(
                {"grad_output": G[:0], "input": X[:0], "weight": W, "bias": True},
                check=lambda r: bool((r[1] == 0).all() and (r[2] == 0).all()),
            ),
        ),
        errors=(
            ErrorSample(
                {"grad_output": G[..., :2], "input": X, "weight": W}, ValueError, "grad_output"
            ),
            ErrorSample({"grad_output": G[0], "input": X, "weight": W}, ValueError, "grad_output"),
            ErrorSample(
                {"grad_output": G.double(), "input": X, "weight": W}, TypeError, "grad_output"
            ),
            ErrorSample(
                {"grad_output": G, "input": X, "weight": W, "bias": "False"}, TypeError, "bias"
            ),
            ErrorSample({"grad_output": G, "input": X, "weight": W, "bias": 1}, TypeError, "bias"),
            ErrorSample(
                {"grad_output": G, "input": X, "weight": W, "bias": B[:3]}, ValueError, "bias"
            ),
        ),
    ),
    Entry(
        P + "lowrank_linear",
        samples=(
            Sample(
                {"x": X, "u": U, "v": V, "bias": B},
                check=_close(X.double() @ V.double().T @ U.double().T + B.double()),
            ),
            Sample({"x": XE, "u": U[:16], "v": _r(5, 32)}),
        ),
        errors=(
            ErrorSample({"x": X.tolist(), "u": U, "v": V}, TypeError, "x"),
            ErrorSample({"x": X, "u": U[:, :1], "v": V}, ValueError, "u"),
            ErrorSample({"x": X, "u": U, "v": V[:, :2]}, ValueError, "v"),
            ErrorSample({"x": X, "u": U, "v": V[0]}, ValueError, "v"),
            ErrorSample({"x": X, "u": U.double(), "v": V}, TypeError, "u"),
            ErrorSample({"x": X, "u": U, "v": V, "bias": B[:4]}, ValueError, "bias"),
        ),
    ),
    Entry(
        P + "lowrank_linear_backward",
        samples=(
            Sample(
                {"grad_output": G, "x": X, "u": U, "v": V, "bias": B},
                check=_grads(G, X, U, V, B, lowrank=True),
            ),
            Sample(
                {"grad_output": G, "x": X, "u": U, "v": V},
                check=_grads(G, X, U, V, None, lowrank=True),
            ),
        ),
        errors=(
            ErrorSample(
                {"grad_output": G[..., :3], "x": X, "u": U, "v": V}, ValueError, "grad_output"
            ),
            ErrorSample({"grad_output": G, "x": X, "u": U, "v": V, "bias": 0}, TypeError, "bias"),
            ErrorSample({"grad_output": G, "x": X, "u": U[:, :2], "v": V}, ValueError, "u"),
        ),
    ),
    Entry(
        P + "block_sparse_linear",
        make=_block_sparse,
        samples=(
            Sample(
                {"x": XB, "blocks": PACKED, **SIZES, "bias": BB},
                check=_close(XB.double() @ _dense_blocks().T + BB.double()),
            ),
            Sample(
                {"x": XB, "blocks": BLOCKS, **SIZES, "bias": BB},
                check=_close(XB.double() @ _dense_blocks().T + BB.double()),
            ),
            Sample(
                {"x": XB, "blocks": {}, **SIZES, "bias": BB},
                check=_close(BB.double().expand(5, 37)),
            ),
            Sample({"x": XB, "blocks": {}, **SIZES}, check=lambda r: bool((r == 0).all())),
            Sample({"x": XA, "blocks": {}, **ALIGNED}, check=lambda r: bool((r == 0).all())),
            Sample(
                {"x": XA, "blocks": BLOCKS_A, **ALIGNED},
                check=_close(
                    torch.cat(
                        [
                            XA[:, 32:].double() @ BLOCKS_A[(0, 1)].double().T,
                            XA[:, :32].double() @ BLOCKS_A[(1, 0)].double().T,
                        ],
                        dim=1,
                    )
                ),
            ),
            Sample({"x": XB[:0], "blocks": BLOCKS, **SIZES}, check=lambda r: r.shape == (0, 37)),
        ),
        errors=(
            ErrorSample(
                {"x": XB, "blocks": BLOCKS, "row_sizes": (17, 0), "col_sizes": (14, 9)},
                ValueError,
                "row_sizes",
            ),
            ErrorSample(
                {"x": XB, "blocks": BLOCKS, "row_sizes": (17, 20), "col_sizes": (14, 8)},
                ValueError,
                "col_sizes",
            ),
            ErrorSample(
                {"x": XB, "blocks": BLOCKS, "row_sizes": "ab", "col_sizes": (14, 9)},
                TypeError,
                "row_sizes",
            ),
            ErrorSample(
                {"x": XB, "blocks": {(0, 2): BLOCKS[(0, 1)]}, **SIZES}, ValueError, "blocks"
            ),
            ErrorSample(
                {"x": XB, "blocks": {(0, True): BLOCKS[(0, 1)]}, **SIZES}, ValueError, "blocks"
            ),
            ErrorSample(
                {"x": XB, "blocks": {(0, 0): BLOCKS[(0, 1)]}, **SIZES}, ValueError, "blocks"
            ),
            ErrorSample(
                {"x": XB, "blocks": {(0, 1): BLOCKS[(0, 1)].double()}, **SIZES}, TypeError, "blocks"
            ),
            ErrorSample({"x": XB, "blocks": [BLOCKS[(0, 1)]], **SIZES}, TypeError, "blocks"),
            ErrorSample({"x": XB, "blocks": BLOCKS, **SIZES, "bias": BB[:3]}, ValueError, "bias"),
            ErrorSample({"x": XB[None], "blocks": BLOCKS, **SIZES}, ValueError, "x"),
            ErrorSample(
                {"x": XB, "blocks": PACKED, "row_sizes": (20, 17), "col_sizes": (14, 9)},
                ValueError,
                "row_sizes",
            ),
            ErrorSample(
                {"x": XB, "blocks": PACKED, "row_sizes": (17, 20), "col_sizes": (9, 14)},
                ValueError,
                "col_sizes",
            ),
            ErrorSample({"x": XB.double(), "blocks": PACKED, **SIZES}, TypeError, "blocks"),
            ErrorSample(
                {"x": XB, "blocks": BLOCKS, "row_sizes": (2**27, 1), "col_sizes": (14, 9)},
                ValueError,
                "row_sizes",
            ),
        ),
    ),
    Entry(
        P + "BlockSparseWeight",
        make=_packed,
        samples=(
            Sample(
                {**SIZES, "blocks": BLOCKS},
                check=lambda r: r["stored"] == ((0, 1), (1, 0)) and r["macs_per_row"] == 433,
            ),
            Sample(
                {**SIZES, "blocks": {}, "dtype": torch.float64},
                check=lambda r: r["data"].numel() == 0 and r["data"].dtype == torch.float64,
            ),
        ),
        errors=(
            ErrorSample({**SIZES, "blocks": {}}, TypeError, "dtype"),
            ErrorSample({**SIZES, "blocks": BLOCKS, "dtype": torch.int32}, TypeError, "dtype"),
            ErrorSample({**SIZES, "blocks": BLOCKS, "dtype": torch.float64}, TypeError, "dtype"),
            ErrorSample({**SIZES, "blocks": {(1, 1): _r(20, 8)}}, ValueError, "blocks"),
            ErrorSample(
                {**SIZES, "blocks": {(0, 1): BLOCKS[(0, 1)], (1, 1): _r(20, 9).double()}},
                TypeError,
                "blocks",
            ),
            ErrorSample({**SIZES, "blocks": (BLOCKS[(0, 1)],)}, TypeError, "blocks"),
            ErrorSample(
                {"blocks": BLOCKS, "row_sizes": (17,), "col_sizes": (14, 9)}, ValueError, "blocks"
            ),
        ),
    ),
]
