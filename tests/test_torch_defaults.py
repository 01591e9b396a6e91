"""The torch-named kernels take torch's arguments: same defaults, same positional order.

The OpInfo tests (``test_opinfo_*.py``) pass torch's samples unchanged, but a sample sets only
some arguments; a default that differs from torch's (say ``dilation=2``) or two arguments in
another order would go unnoticed there. Here every public kernel whose name (less a
``_backward`` suffix; ``conv2d_direct``/``conv2d_im2col`` count as ``conv2d``) is a function of
``torch.nn.functional`` is compared with torch's *documented* signature (the first line of its
docstring, since most are builtins without ``inspect`` signatures), and every ``*_backward``
with its forward. Not linked to a claim: it is about the API, not a formula.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re

import pytest
import torch.nn.functional as F

MODULES = ("conv", "conv2d", "linear", "pool", "norm")
ALIASES = {"conv2d_direct": "conv2d", "conv2d_im2col": "conv2d"}


def torch_signature(name: str) -> list[tuple[str, object]]:
    """``[(parameter, default or inspect.Parameter.empty)]`` of ``F.<name>``, in order."""
    fn = getattr(F, name)
    try:
        sig = inspect.signature(fn)
        params = list(sig.parameters.values())
        if params and params[0].kind is not inspect.Parameter.VAR_POSITIONAL:
            return [(p.name, p.default) for p in params]
    except ValueError:  # a builtin without a signature: read the documented one
        pass
    doc = fn.__doc__ or ""
    match = re.search(rf"^\s*{name}\((.*?)\)\s*(->|$)", doc, flags=re.M)
    assert match, f"no documented signature for F.{name}"
    args = ast.parse(f"def f({match.group(1)}): pass").body[0].args
    names = [a.arg for a in args.args]
    defaults = [ast.literal_eval(d) for d in args.defaults]
    padded = [inspect.Parameter.empty] * (len(names) - len(defaults)) + defaults
    return list(zip(names, padded, strict=True))


def ours() -> list[tuple[str, object]]:
    out = []
    for mod in MODULES:
        module = importlib.import_module(f"kernels.cpu.{mod}")
        for name, fn in vars(module).items():
            if (
                name.startswith("_")
                or not inspect.isfunction(fn)
                or fn.__module__ != module.__name__
            ):
                continue
            base = name.removesuffix("_backward")
            if hasattr(F, ALIASES.get(base, base)):
                out.append((f"{mod}.{name}", fn))
    return out


KERNELS = ours()


def test_the_torch_named_kernels_are_found():
    names = {n for n, _ in KERNELS}
    for expected in ("conv.conv2d", "conv.conv_transpose1d", "pool.max_pool1d", "norm.group_norm"):
        assert expected in names, names


@pytest.mark.parametrize(("name", "fn"), KERNELS, ids=[n for n, _ in KERNELS])
def test_defaults_and_order_are_torchs(name, fn):
    base = name.split(".")[1].removesuffix("_backward")
    theirs = torch_signature(ALIASES.get(base, base))
    mine = {p.name: p.default for p in inspect.signature(fn).parameters.values()}
    torch_names = [n for n, _ in theirs[1:]]  # the input is positional: its name may differ
    shared = [n for n in torch_names if n in mine]
    assert shared, f"{name} shares no argument name with torch's {base}"
    for param, default in theirs[1:]:
        if param in mine and default is not inspect.Parameter.empty:
            assert mine[param] == default and type(mine[param]) is type(default), (
                f"{name}: default {param}={mine[param]!r}, torch's is {default!r}"
            )
    order = [n for n in mine if n in shared]
    assert order == shared, f"{name}: argument order {order}, torch's {shared}"


@pytest.mark.parametrize(
    ("name", "fn"),
    [(n, f) for n, f in KERNELS if n.endswith("_backward")],
    ids=[n for n, _ in KERNELS if n.endswith("_backward")],
)
def test_backward_defaults_equal_the_forwards(name, fn):
    module = importlib.import_module(f"kernels.cpu.{name.split('.')[0]}")
    forward = getattr(module, name.split(".")[1].removesuffix("_backward"))
    fwd = {p.name: p.default for p in inspect.signature(forward).parameters.values()}
    bwd = {p.name: p.default for p in inspect.signature(fn).parameters.values()}
    for param, default in fwd.items():
        if param in bwd and default is not inspect.Parameter.empty:
            assert bwd[param] == default, f"{name}: {param}={bwd[param]!r}, forward {default!r}"


LAYER_TWINS = {"Linear": "Linear", "LowRankLinear": "Linear", "BlockSparseLinear": "Linear",
               "Conv2d": "Conv2d"}  # fmt: skip


@pytest.mark.parametrize(("ours_name", "torch_name"), sorted(LAYER_TWINS.items()))
def test_layer_defaults_are_torchs(ours_name, torch_name):
    """The layer objects default like torch's modules (``bias=True``, ``stride=1`` …);
    ``dtype`` is ours (float64 references), not torch's ``None``."""
    import torch.nn as nn

    from kernels.cpu import layers

    mine = inspect.signature(getattr(layers, ours_name)).parameters
    theirs = inspect.signature(getattr(nn, torch_name)).parameters
    shared = [n for n in theirs if n in mine and n not in ("dtype", "device")]
    assert "bias" in shared
    for name in shared:
        if theirs[name].default is not inspect.Parameter.empty:
            assert mine[name].default == theirs[name].default, (
                f"{ours_name}: default {name}={mine[name].default!r}, torch's "
                f"nn.{torch_name} has {theirs[name].default!r}"
            )
