"""The bad-input table as a test (see :mod:`tests.badinput.table` for the rules).

* every public function, class and method of ``theory``, ``kernels`` and ``numerics`` has an
  entry, and every entry names something public;
* valid samples give sane results; error samples raise the stated error naming the argument;
* a hypothesis fuzz replaces one argument at a time and accepts only a sane (and, for an
  equivalent spelling, equal) result or a ValueError/TypeError naming that argument — never
  another exception, a NaN, a negative count or a hang.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import inspect
import math
import pkgutil
import re
import signal
import warnings
from typing import Any

import numpy as np
import pytest
import sympy
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from numerics.tolerances import tolerance
from tests.badinput import entries
from tests.badinput.table import Entry, Sample

PACKAGES = ("theory", "kernels", "numerics", "layercheck")


def public_api() -> list[str]:
    """Dotted names of the public functions, classes and methods of the project's packages.

    Public: defined in a module whose name has no leading underscore, under a name with no
    leading underscore; for a class also its own methods (not inherited, not dunder).
    """
    out: list[str] = []
    for pkg in PACKAGES:
        root = importlib.import_module(pkg)
        for info in pkgutil.walk_packages(root.__path__, f"{pkg}."):
            if any(part.startswith("_") for part in info.name.split(".")):
                continue
            module = importlib.import_module(info.name)
            for name, obj in vars(module).items():
                if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
                    continue
                if inspect.isfunction(inspect.unwrap(obj)):  # also functools-wrapped ones
                    out.append(f"{module.__name__}.{name}")
                elif inspect.isclass(obj):
                    out.append(f"{module.__name__}.{name}")
                    for meth, value in vars(obj).items():
                        if meth.startswith("_"):
                            continue
                        if inspect.isfunction(value) or isinstance(
                            value, staticmethod | classmethod
                        ):
                            out.append(f"{module.__name__}.{name}.{meth}")
    return sorted(out)


ENTRIES = entries()


def _ids(entry: Entry) -> str:
    return entry.target


def test_every_public_function_has_an_entry():
    targets = [e.target for e in ENTRIES]
    dupes = sorted({t for t in targets if targets.count(t) > 1})
    assert not dupes, f"targets with more than one entry: {dupes}"
    public = set(public_api())
    missing = sorted(public - set(targets))
    stale = sorted(set(targets) - public)
    assert not missing, f"public functions without a bad-input entry: {missing}"
    assert not stale, f"entries for names that are not public (renamed?): {stale}"


def test_every_entry_has_a_valid_sample_and_fuzzes_or_says_why():
    for e in ENTRIES:
        assert e.samples, f"{e.target}: no valid sample"
        assert e.fuzz or e.note, f"{e.target}: fuzz=False needs a note saying why"
        assert e.result in ("count", "value", "any"), e.target


# Calling with a time limit --------------------------------------------------------------


class CallTimeout(BaseException):
    """Raised by the alarm; a BaseException so that ``except Exception`` cannot swallow it."""


def _alarm(signum, frame):  # pragma: no cover - only on a hang
    raise CallTimeout


def _resolve(entry: Entry):
    if entry.make is not None:
        return entry.make()
    module_name, _, attr = entry.target.rpartition(".")
    return getattr(importlib.import_module(module_name), attr)


def call(entry: Entry, args: tuple, kwargs: dict) -> Any:
    """Call the entry's target on deep copies of the arguments, within its time limit.

    A Triton kernel (``kernels.gpu.<family>.*``) is skipped where no kernel can run (no
    Triton, or neither a CUDA device nor ``TRITON_INTERPRET=1``): the CPU suite never needs it.
    """
    if entry.target.count(".") > 2 and entry.target.startswith("kernels.gpu."):
        from kernels.gpu import available, status

        if not available():
            pytest.skip(status())
    fn = _resolve(entry)
    args, kwargs = copy.deepcopy(args), copy.deepcopy(kwargs)
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, entry.time_limit)
    try:
        return fn(*args, **kwargs)
    except CallTimeout:
        raise AssertionError(
            f"{entry.target} did not return within {entry.time_limit} s (a hang or unbounded "
            f"work): args={args!r} kwargs={kwargs!r}"
        ) from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


# Sanity of results ----------------------------------------------------------------------

_BAD_SYMPY = (sympy.nan, sympy.zoo, sympy.oo, -sympy.oo)


def insane(value: Any, kind: str, depth: int = 0) -> str | None:
    """Why ``value`` is not a sane result of kind ``kind``, or None."""
    if kind == "any" or depth > 6:
        return None
    if isinstance(value, bool | np.bool_ | str | bytes | type(None)):
        return None
    if isinstance(value, int | np.integer):
        return f"negative count {value}" if kind == "count" and value < 0 else None
    if isinstance(value, float | np.floating | complex | np.complexfloating):
        if not np.isfinite(value):
            return f"non-finite number {value!r}"
        return f"negative count {value}" if kind == "count" and value.real < 0 else None
    if isinstance(value, sympy.Basic):
        if any(value.has(b) for b in _BAD_SYMPY) if hasattr(value, "has") else False:
            return f"NaN/infinity in expression {value}"
        if kind == "count" and isinstance(value, sympy.Number):  # no assumption query: on a
            return f"negative count {value}" if value < 0 else None  # huge Integer it can hang
        if kind == "count" and isinstance(value, sympy.Expr) and value.is_negative:
            return f"negative count {value}"
        return None
    if isinstance(value, torch.Tensor):
        if value.device.type == "meta":
            return None
        value = value.detach().cpu()
        value = (value.double() if value.is_floating_point() else value).numpy()
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "fc" and not np.isfinite(value).all():
            return f"non-finite entries in array of shape {value.shape}"
        if kind == "count" and value.dtype.kind in "iuf" and (value < 0).any():
            return "negative counts in array"
        return None
    if isinstance(value, dict):
        items: Any = value.values()
    elif isinstance(value, list | tuple | set | frozenset):
        items = value
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        items = [getattr(value, f.name) for f in dataclasses.fields(value)]
    else:
        return None
    for item in items:
        why = insane(item, kind, depth + 1)
        if why:
            return why
    return None


def same(a: Any, b: Any) -> bool:
    """Equal results (arrays: within the float tolerance table of their dtype)."""
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        if a.dtype != b.dtype or a.shape != b.shape:
            return False
        if a.dtype not in (torch.float32, torch.float64):  # no table row: bit-equal only
            return bool(torch.equal(a, b))
        a, b = a.detach().cpu().numpy(), b.detach().cpu().numpy()
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape:
            return False
        if a.dtype.kind == "f" and b.dtype.kind == "f":
            tol = tolerance(a.dtype if a.dtype.itemsize <= b.dtype.itemsize else b.dtype)
            return bool(np.all(np.abs(a - b) <= tol.atol + tol.rtol * np.abs(b)))
        return bool(np.array_equal(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-300) or a == b
    try:
        return bool(a == b)
    except Exception:  # objects without a usable ==: identity of type is all we ask
        return type(a) is type(b)


def _check_sample(entry: Entry, sample: Sample, result: Any) -> None:
    why = insane(result, entry.result)
    assert why is None, f"{entry.target}({sample.kwargs!r}): {why}"
    if sample.check is not None:
        verdict = sample.check(result)  # raises, or returns None/True; False fails
        assert (
            verdict is None or verdict is True or (not isinstance(verdict, bool) and bool(verdict))
        ), f"{entry.target}({sample.kwargs!r}): the sample's check returned {verdict!r}"


@pytest.mark.parametrize("entry", ENTRIES, ids=_ids)
def test_valid_samples_give_sane_results(entry: Entry):
    for sample in entry.samples:
        _check_sample(entry, sample, call(entry, sample.args, dict(sample.kwargs)))


def names_argument(message: str, name: str) -> bool:
    return re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", message) is not None


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e.errors], ids=_ids)
def test_error_samples_are_rejected_naming_the_argument(entry: Entry):
    for err in entry.errors:
        with pytest.raises(err.exc, match=err.match):
            call(entry, err.args, dict(err.kwargs))
    for err in entry.errors:
        assert (
            issubclass(err.exc, ValueError | TypeError)
            if isinstance(err.exc, type)
            else all(issubclass(x, ValueError | TypeError) for x in err.exc)
        ), f"{entry.target}: error samples must expect ValueError/TypeError"


# The fuzz -------------------------------------------------------------------------------

_NEG_SYMBOL = sympy.Symbol("s_negative", negative=True)
_FREE_SYMBOL = sympy.Symbol("s_free")

GENERIC_BAD: tuple = (
    -1,
    0,
    -7,
    10**30,
    2**63,
    1.5,
    0.0,
    -0.5,
    1e308,
    1e-320,
    float("nan"),
    float("inf"),
    -float("inf"),
    True,
    False,
    None,
    "x",
    "False",
    b"\x01",
    (),
    [],
    {},
    1 + 1j,
    sympy.nan,
    sympy.oo,
    sympy.zoo,
    sympy.Rational(1, 2),
    _NEG_SYMBOL,
    _FREE_SYMBOL,
    np.float64("nan"),
    np.int64(-1),
)


def equivalents(value: Any) -> list[Any]:
    """Other spellings of a valid argument that must give the same result."""
    if isinstance(value, bool | np.bool_):
        return [bool(value)]
    if isinstance(value, int | np.integer):
        fits = -(2**63) <= int(value) < 2**63
        return [np.int64(value), int(value)] if fits else [int(value)]
    if isinstance(value, float | np.floating):
        return [np.float64(value)]
    if isinstance(value, tuple) and value and all(isinstance(v, int) for v in value):
        if all(-(2**63) <= v < 2**63 for v in value):
            return [list(value), tuple(np.int64(v) for v in value)]
        return [list(value)]
    if isinstance(value, np.ndarray) and value.ndim >= 1 and value.size:
        fortran = np.asfortranarray(value)
        bigger = np.zeros(tuple(2 * s for s in value.shape), value.dtype)
        strided = bigger[tuple(slice(None, None, 2) for _ in value.shape)]
        strided[...] = value
        flipped = np.flip(np.flip(value, 0).copy(), 0)  # negative strides, same values
        readonly = value.copy()
        readonly.flags.writeable = False
        return [fortran, strided, flipped, readonly]
    if isinstance(value, torch.Tensor) and value.ndim >= 1 and value.numel():
        bigger = torch.zeros(
            tuple(2 * n for n in value.shape), dtype=value.dtype, device=value.device
        )
        strided = bigger[tuple(slice(None, None, 2) for _ in value.shape)]
        strided.copy_(value)
        out = [strided]
        if value.ndim >= 2:
            out.append(value.transpose(0, -1).contiguous().transpose(0, -1))
        if value.ndim == 4:
            out.append(value.contiguous(memory_format=torch.channels_last))
        return out
    return []


def tensor_variants(value: torch.Tensor) -> list[Any]:
    """Wrong kinds of tensor: dtype, rank, type, size, device, autograd."""
    other = torch.float64 if value.dtype != torch.float64 else torch.float32
    out: list[Any] = [
        value.to(torch.int64) if value.is_floating_point() else value.to(torch.float32),
        value.to(torch.complex64),
        value.to(other),
        value[None],
        (value.float() if value.dtype == torch.bfloat16 else value).cpu().numpy(),
        value.tolist(),
        value.to("meta"),
    ]
    if value.is_floating_point():
        out.append(value.clone().requires_grad_(True))
    if value.ndim >= 1:
        out += [value.reshape(-1), value[:0], value[..., :1]]
    return out


def array_variants(value: np.ndarray) -> list[Any]:
    """Wrong kinds of array: dtype, rank, type, size."""
    out: list[Any] = [
        value.astype(np.int64),
        value.astype(np.complex128),
        value.astype(np.float16),
        value[None],
        value.tolist(),
        torch.from_numpy(np.ascontiguousarray(value)),
        np.array(value, dtype=object),
    ]
    if value.ndim >= 1:
        out += [value.reshape(-1), value[:0], value[..., :1]]
    if value.ndim == 2:
        with warnings.catch_warnings():  # numpy discourages np.matrix: that is the point
            warnings.simplefilter("ignore", PendingDeprecationWarning)
            out.append(np.asmatrix(value))  # an ndarray subclass with other semantics
    return out


def _run_fuzz(entry: Entry, data: st.DataObject) -> None:
    samples = [s for s in entry.samples if s.kwargs]
    sample = data.draw(st.sampled_from(samples), label="sample")
    name = data.draw(st.sampled_from(sorted(sample.kwargs)), label="argument")
    original = sample.kwargs[name]
    pool = list(GENERIC_BAD) + list(entry.bad_values.get(name, ()))
    if isinstance(original, np.ndarray):
        pool += array_variants(original)
    if isinstance(original, torch.Tensor):
        pool += tensor_variants(original)
    equal = equivalents(original)
    value = data.draw(st.sampled_from(pool + equal), label="value")
    is_equivalent = any(value is v for v in equal)
    kwargs = {**sample.kwargs, name: value}
    where = f"{entry.target}(**{{...{name}={value!r}}}) from sample {dict(sample.kwargs)!r}"
    try:
        result = call(entry, sample.args, kwargs)
    except (ValueError, TypeError) as e:
        assert not is_equivalent, f"{where}: rejects an equivalent spelling: {e}"
        assert names_argument(str(e), name), (
            f"{where}: {type(e).__name__} does not name the argument {name!r}: {e}"
        )
        return
    except AssertionError:
        raise
    except Exception as e:
        raise AssertionError(f"{where}: raised {type(e).__name__}: {e}") from e
    domain = entry.domains.get(name)
    if domain is not None and not is_equivalent:
        assert domain(value), f"{where}: accepted a value outside the domain of {name!r}"
    why = insane(result, entry.result)
    assert why is None, f"{where}: {why}"
    if is_equivalent:
        expected = call(entry, sample.args, dict(sample.kwargs))
        assert same(result, expected), f"{where}: equivalent spelling gave a different result"


FUZZED = [e for e in ENTRIES if e.fuzz and any(s.kwargs for s in e.samples)]


def _fuzz_examples() -> int:
    return max(10, settings().max_examples // 3)


@pytest.mark.parametrize("entry", FUZZED, ids=_ids)
def test_fuzz_one_bad_argument_at_a_time(entry: Entry):
    @settings(
        max_examples=_fuzz_examples(),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(data=st.data())
    def run(data):
        _run_fuzz(entry, data)

    run()
