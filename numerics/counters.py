r"""Run the ecosystem's operation counters themselves: fvcore, ptflops (both backends), thop,
torchinfo and ``torch.utils.flop_counter.FlopCounterMode``, each in the exact mode a key of
:data:`theory.counters.COUNTERS` names, so that a test can compare the tool's number with
the convention's prediction :meth:`theory.arch.Spec.count` to the last operation.

:func:`run_counter` ``(name, module, example)`` → ``{"ops": int, "params": int}``:

==========================  ==============================================================
key                         call (``m`` the module in eval mode, ``x`` a batch-1 example)
==========================  ==============================================================
``fvcore``                  ``FlopCountAnalysis(m, x).total()`` with grad enabled;
                            parameters ``fvcore.nn.parameter_count(m)[""]``
``fvcore_no_grad``          the same under ``torch.no_grad()``
``ptflops_pytorch``         ``get_model_complexity_info(m, x.shape[1:], backend="pytorch",
                            input_constructor=lambda _: x)``, grad enabled
``ptflops_aten``            the same with ``backend="aten"``
``ptflops_aten_no_grad``    ``backend="aten"`` under ``torch.no_grad()``
``thop``                    ``thop.profile(m, inputs=(x,))`` (runs under ``no_grad`` itself)
``torchinfo``               ``torchinfo.summary(m, input_data=x)``: ``total_mult_adds``,
                            ``total_params`` (runs under ``no_grad`` itself)
``flopcounter_meta``        ``FlopCounterMode``; module and example moved to ``meta``
                            (a parameter-free copy: the caller's module is untouched)
``flopcounter_cpu``         ``FlopCounterMode`` on CPU tensors, grad enabled
``flopcounter_cpu_no_grad`` ``FlopCounterMode`` on CPU tensors under ``torch.no_grad()``
==========================  ==============================================================

``"torchvision"`` is no tool but torchvision's published ``_ops``: :func:`run_counter`
refuses it. The tools print and warn as they go (fvcore's unsupported-operator warnings,
the jit tracer's warnings, thop's and ptflops' prints, ptflops' traceback when the forward
fails): all of that is silenced, and a failure is a ``ValueError``.

Grad mode matters on transformers only: under ``torch.no_grad()`` an eval-mode
``nn.MultiheadAttention`` with an even number of heads takes the fused
``aten._native_multi_head_attention`` path, which fvcore, ptflops' aten backend and
``FlopCounterMode`` have no formula for (``torch/nn/modules/activation.py``,
``MultiheadAttention.forward``: the ``why_not_fast_path`` checks).

:func:`measure` runs every tool on the reference networks of :mod:`theory.architectures`
(built by :func:`numerics.torch_arch.to_module`: batch 1, eval, float32 on the CPU; on
``meta`` for ``flopcounter_meta``) and returns the exact integers next to the convention's
prediction, with the tools' versions; the architectures page calls it through
:func:`numerics.cache.cached`.

Sources read (pinned versions, ``requirements.lock``): ``fvcore/nn/flop_count.py``,
``fvcore/nn/jit_handles.py``; ``ptflops/flops_counter.py``, ``ptflops/pytorch_engine.py``,
``ptflops/pytorch_ops.py``, ``ptflops/aten_engine.py``, ``ptflops/aten_ops.py``;
``thop/profile.py``, ``thop/vision/basic_hooks.py``, ``thop/vision/calc_func.py``;
``torchinfo/torchinfo.py``, ``torchinfo/layer_info.py``; ``torch/utils/flop_counter.py``.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import importlib.metadata
import io
import logging
import warnings
from collections.abc import Sequence

import torch
from torch import nn

from theory.counters import COUNTERS

__all__ = [
    "PACKAGES",
    "TOOL_COUNTERS",
    "measure",
    "reference_module",
    "run_counter",
    "tool_versions",
]

#: The pip package each counter key runs (FlopCounterMode ships with torch).
PACKAGES = {
    "fvcore": "fvcore",
    "fvcore_no_grad": "fvcore",
    "ptflops_pytorch": "ptflops",
    "ptflops_aten": "ptflops",
    "ptflops_aten_no_grad": "ptflops",
    "thop": "thop",
    "torchinfo": "torchinfo",
    "flopcounter_meta": "torch",
    "flopcounter_cpu": "torch",
    "flopcounter_cpu_no_grad": "torch",
}

#: Keys of :data:`theory.counters.COUNTERS` that name a tool :func:`run_counter` can run
#: (all but ``"torchvision"``), in the table's order.
TOOL_COUNTERS = tuple(k for k in COUNTERS if k in PACKAGES)

_PUBLISHED = (
    "'torchvision' is torchvision's published _ops (a number in its weights' metadata), "
    "not a tool to run: predict it with Spec.count(theory.counters.COUNTERS['torchvision'])"
)

#: Loggers the tools warn through (fvcore's unsupported-operator and uncalled-module lists).
_LOGGERS = ("fvcore", "fvcore.nn.jit_analysis", "iopath")


def _name(name: object) -> str:
    if not isinstance(name, str):
        raise TypeError(f"name must be one of {TOOL_COUNTERS}, got {name!r}")
    if name == "torchvision":
        raise ValueError(f"name: {_PUBLISHED}")
    if name not in PACKAGES:
        raise ValueError(f"name must be one of {TOOL_COUNTERS}, got {name!r}")
    return name


def _import(name: str, module: str):
    """Import ``module`` of the tool counter ``name`` needs, with an install hint."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        package = PACKAGES[name]
        raise ImportError(
            f"counter {name!r} needs the package {package!r}, which is not installed "
            f"({err}); install the pinned counters with `pip install layercheck[counters]`"
        ) from err


@contextlib.contextmanager
def _quiet():
    """Silence the tools: stdout/stderr prints, Python warnings, their loggers."""
    loggers = [logging.getLogger(n) for n in _LOGGERS]
    levels = [lg.level for lg in loggers]
    try:
        for lg in loggers:
            lg.setLevel(logging.CRITICAL + 1)
        with (
            warnings.catch_warnings(),
            contextlib.redirect_stdout(io.StringIO()),
            contextlib.redirect_stderr(io.StringIO()),
        ):
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def _devices(module: nn.Module) -> set[str]:
    return {t.device.type for t in (*module.parameters(), *module.buffers())}


def _on_meta(module: nn.Module) -> nn.Module:
    """A copy of ``module`` whose parameters and buffers live on ``meta`` (no data copied:
    the deep copy's memo maps every tensor to its meta twin, tied weights stay tied)."""
    memo: dict[int, object] = {}
    for t in (*module.parameters(), *module.buffers()):
        if id(t) in memo:
            continue
        twin = t.detach().to("meta")
        memo[id(t)] = nn.Parameter(twin, t.requires_grad) if isinstance(t, nn.Parameter) else twin
    return copy.deepcopy(module, memo)


@contextlib.contextmanager
def _restored(module: nn.Module):
    """Undo what a tool leaves on ``module`` and its submodules: the training flag, extra
    instance attributes (ptflops' pytorch backend binds ``start_flops_count`` and three
    more methods to the model), extra forward hooks (its aten backend's) and extra buffers
    (thop registers ``total_ops`` and ``total_params`` on *every* module but removes them
    only from those it has a rule for: ``thop/profile.py``, ``profile``)."""
    training = module.training

    def state(m: nn.Module) -> tuple[set, ...]:
        return (set(vars(m)), set(m._buffers), *(set(getattr(m, h)) for h in _HOOKS))

    before = {id(m): state(m) for m in module.modules()}
    try:
        yield
    finally:
        for m in module.modules():
            attrs, buffers, *hooks = before.get(id(m), state(m))
            for b in set(m._buffers) - buffers:
                del m._buffers[b]
            for name, keep in zip(_HOOKS, hooks, strict=True):
                for h in set(getattr(m, name)) - keep:
                    for table in (name, f"{name}_with_kwargs", "_forward_hooks_always_called"):
                        getattr(m, table, {}).pop(h, None)
            for a in set(vars(m)) - attrs:
                delattr(m, a)
        module.train(training)


#: A module's hook tables (ptflops' aten backend registers a pre-hook and a hook on every
#: child of the model and never removes them: ``ptflops/aten_engine.py``, FlopCounterMode).
_HOOKS = ("_forward_hooks", "_forward_pre_hooks")


def _int(value: object, tool: str, what: str) -> int:
    """A tool's count as an int; ``None`` (ptflops after a failed forward) is a ValueError."""
    if value is None:
        raise ValueError(f"example does not fit the module: {tool} failed and reported no {what}")
    if isinstance(value, torch.Tensor):
        value = value.item()
    as_int = int(value)
    if as_int != value:  # thop sums float64 per-layer integers: exact below 2**53
        raise ValueError(f"{tool} reported a non-integer {what} {value!r}")
    return as_int


def _fvcore(name: str, module: nn.Module, x: torch.Tensor, grad: bool) -> dict:
    fv = _import(name, "fvcore.nn")
    analysis = fv.FlopCountAnalysis(module, x)
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    with torch.set_grad_enabled(grad):
        ops = analysis.total()  # the trace runs here, in this grad mode
    return {"ops": _int(ops, "fvcore", "count"), "params": int(fv.parameter_count(module)[""])}


def _ptflops(name: str, module: nn.Module, x: torch.Tensor, backend: str, grad: bool) -> dict:
    pt = _import(name, "ptflops")
    with torch.set_grad_enabled(grad):
        macs, params = pt.get_model_complexity_info(
            module, tuple(x.shape[1:]), print_per_layer_stat=False, as_strings=False,
            input_constructor=lambda _: x, backend=backend,
        )  # fmt: skip
    return {"ops": _int(macs, "ptflops", "count"), "params": _int(params, "ptflops", "params")}


def _thop(name: str, module: nn.Module, x: torch.Tensor) -> dict:
    thop = _import(name, "thop")
    macs, params = thop.profile(module, inputs=(x,), verbose=False)
    return {"ops": _int(macs, "thop", "count"), "params": _int(params, "thop", "params")}


def _torchinfo(name: str, module: nn.Module, x: torch.Tensor) -> dict:
    ti = _import(name, "torchinfo")
    stats = ti.summary(module, input_data=x, verbose=0, device=x.device)
    return {"ops": int(stats.total_mult_adds), "params": int(stats.total_params)}


def _flopcounter(module: nn.Module, x: torch.Tensor, grad: bool) -> dict:
    from torch.utils.flop_counter import FlopCounterMode

    with torch.set_grad_enabled(grad), FlopCounterMode(display=False) as counter:
        module(x)
    return {
        "ops": int(counter.get_total_flops()),
        "params": sum(p.numel() for p in module.parameters()),
    }


def _dispatch(name: str, module: nn.Module, x: torch.Tensor) -> dict:
    if name in ("fvcore", "fvcore_no_grad"):
        return _fvcore(name, module, x, grad=name == "fvcore")
    if name == "ptflops_pytorch":
        return _ptflops(name, module, x, "pytorch", grad=True)
    if name in ("ptflops_aten", "ptflops_aten_no_grad"):
        return _ptflops(name, module, x, "aten", grad=name == "ptflops_aten")
    if name == "thop":
        return _thop(name, module, x)
    if name == "torchinfo":
        return _torchinfo(name, module, x)
    return _flopcounter(module, x, grad=name == "flopcounter_cpu")


def run_counter(name: str, module: nn.Module, example: torch.Tensor) -> dict[str, int]:
    r"""Run the tool of counter ``name`` on ``module`` fed ``example``, exactly as
    :data:`theory.counters.COUNTERS` ``[name]`` describes it, and return what it reports:
    ``{"ops": int, "params": int}`` (``ops`` in the convention's unit: MACs, FLOPs or
    torchinfo's mult-adds, per forward pass of the batch-1 ``example``).

    ``name``: a key of :data:`TOOL_COUNTERS` (``"torchvision"``, a published number, is a
    ``ValueError``). ``module``: a ``torch.nn.Module`` with its parameters on the CPU (or on
    ``meta`` for ``"flopcounter_meta"``, which otherwise counts a parameter-free meta copy);
    it runs in eval mode, and its training flag, attributes and buffers are restored
    afterwards (the tools leave hooks' bookkeeping behind otherwise). ``example``: a tensor with
    a batch axis of size 1 on the module's device (every tool but ptflops counts the whole
    batch, ptflops divides by it: batch 1 makes them agree per sample). A failing forward
    pass is a ``ValueError``; a tool that is not installed an ``ImportError`` naming the
    package and ``pip install layercheck[counters]``.

    Tool sources read: fvcore ``nn/flop_count.py`` and ``nn/jit_handles.py`` (the trace runs
    in ``total()``, so the grad mode is set around it); ptflops ``flops_counter.py``,
    ``pytorch_engine.py`` (a failure prints a traceback and returns ``None, None``),
    ``aten_engine.py``; thop ``profile.py`` (eval and ``no_grad`` inside, float64 totals);
    torchinfo ``torchinfo.py`` (``no_grad`` inside), ``layer_info.py``; torch
    ``utils/flop_counter.py``.
    """
    name = _name(name)
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    if not isinstance(example, torch.Tensor):
        raise TypeError(f"example must be a torch.Tensor, got {type(example).__name__}")
    if example.dim() < 1 or example.shape[0] != 1:
        raise ValueError(
            f"example must have a batch axis of size 1 (counts per sample), got shape "
            f"{tuple(example.shape)}"
        )
    devices = _devices(module)
    if name == "flopcounter_meta":
        if example.device.type not in ("cpu", "meta") or devices - {"cpu", "meta"}:
            raise ValueError(
                f"module and example must be on the CPU or on meta for {name!r}, got "
                f"{sorted(devices)} and {example.device}"
            )
        if devices - {"meta"}:
            module = _on_meta(module)
        example = example.to("meta")
    elif devices - {"cpu"} or example.device.type != "cpu":
        raise ValueError(
            f"module and example must be on the CPU for {name!r} (its convention was "
            f"measured there), got {sorted(devices) or ['cpu']} and {example.device}"
        )
    if PACKAGES[name] != "torch":
        with _quiet():  # thop warns on import (distutils' LooseVersion)
            _import(name, PACKAGES[name])  # an ImportError before the run, not inside it
    if hasattr(module, "_check_input"):  # a numerics.torch_arch.SpecNet says what it takes
        module._check_input(example, "example")
    try:
        with _restored(module), _quiet():
            module.eval()
            return _dispatch(name, module, example)
    except (RuntimeError, IndexError, AssertionError, TypeError, ValueError) as err:
        raise ValueError(f"example does not fit the module ({name}): {err}") from None


def tool_versions() -> dict[str, str]:
    """Installed versions of torch and of the four counter packages
    (``importlib.metadata``; ``"not installed"`` for a missing one)."""
    out = {}
    for package in ("torch", "fvcore", "ptflops", "thop", "torchinfo"):
        try:
            out[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            out[package] = "not installed"
    return out


def _keys(values: object, allowed: tuple[str, ...], what: str) -> tuple[str, ...]:
    if values is None:
        return allowed
    if isinstance(values, str | bytes) or not isinstance(values, Sequence):
        raise TypeError(f"{what} must be None or a sequence of {allowed}, got {values!r}")
    out = []
    for v in values:
        if not isinstance(v, str):
            raise TypeError(f"{what} must be None or a sequence of {allowed}, got {v!r}")
        if v == "torchvision" and what == "counters":
            raise ValueError(f"counters: {_PUBLISHED}")
        if v not in allowed:
            raise ValueError(f"{what} must be None or a sequence of {allowed}, got {v!r}")
        if v in out:
            raise ValueError(f"{what} must not repeat an entry, got {v!r} twice")
        out.append(v)
    return tuple(out)


def reference_module(spec, device: str = "cpu") -> tuple[nn.Module, torch.Tensor]:
    """(eval-mode module, batch-1 example) of ``spec`` as :func:`measure` builds them:
    float32, seeded (``torch.manual_seed(0)``), a random image or all-zero token ids;
    ``device`` ``"cpu"`` or ``"meta"`` (built there: no memory for the weights)."""
    from numerics.torch_arch import to_module
    from theory.arch import Spec

    if not isinstance(spec, Spec):
        raise TypeError(f"spec must be a theory.arch.Spec, got {type(spec).__name__}")
    if not isinstance(device, str):
        raise TypeError(f"device must be 'cpu' or 'meta', got {device!r}")
    if device not in ("cpu", "meta"):
        raise ValueError(f"device must be 'cpu' or 'meta', got {device!r}")
    with torch.device(device):
        torch.manual_seed(0)
        try:
            module = to_module(spec).eval()
        except (TypeError, ValueError) as err:
            raise ValueError(f"spec cannot be built as a torch module: {err}") from None
        shape = module.input_shape
        if len(shape) == 1:
            example = torch.zeros(1, *shape, dtype=torch.long)
        elif device == "meta":
            example = torch.empty(1, *shape)
        else:
            example = torch.randn(1, *shape, generator=torch.Generator().manual_seed(0))
    return module, example


def measure(names: Sequence[str] | None = None, counters: Sequence[str] | None = None) -> dict:
    """Run every tool counter on the reference networks and set its number next to the
    convention's prediction.

    ``names``: keys of :data:`theory.architectures.REFERENCE` (None: all eight);
    ``counters``: keys of :data:`TOOL_COUNTERS` (None: all ten). Each (network, counter)
    gets a fresh module from :func:`reference_module` (``"meta"`` for
    ``flopcounter_meta``): the tools attach hooks and buffers. Returns a dict: ``versions``
    (:func:`tool_versions`), ``setup`` (how the modules were built and run, one sentence),
    ``networks`` and ``counters`` (the keys, in order) and ``results``, where
    ``results[name][key]`` holds ``ops`` and ``params`` (what the tool reported) and
    ``convention_ops`` and ``convention_params`` (``Spec.count`` / ``Spec.params`` under
    ``COUNTERS[key]``), exact integers throughout (a tool that fails raises: there is
    nothing to compare). The
    eight networks through all ten tools take about 20 s on two CPU cores.
    """
    from theory.architectures import REFERENCE, reference_spec

    nets = _keys(names, tuple(REFERENCE), "names")
    keys = _keys(counters, TOOL_COUNTERS, "counters")
    results: dict[str, dict] = {}
    for net in nets:
        spec = reference_spec(net)
        row = results[net] = {}
        for key in keys:
            device = "meta" if key == "flopcounter_meta" else "cpu"
            module, example = reference_module(spec, device)
            got = run_counter(key, module, example)
            del module
            row[key] = {
                "ops": got["ops"],
                "params": got["params"],
                "convention_ops": int(spec.count(COUNTERS[key])),
                "convention_params": int(spec.params(COUNTERS[key])),
            }
    return {
        "versions": tool_versions(),
        "setup": (
            "theory.architectures reference specs built by numerics.torch_arch.to_module, "
            "eval mode, batch 1, float32 on the CPU (224x224 random image; BERT: 128 zero "
            "token ids); flopcounter_meta on the meta device"
        ),
        "networks": list(nets),
        "counters": list(keys),
        "results": results,
    }
