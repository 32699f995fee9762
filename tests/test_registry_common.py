"""One set of checks run over every law in the registry (after scikit-learn's common tests)."""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest

from hpadvisor.errors import InvalidInputError
from hpadvisor.laws import REGISTRY
from hpadvisor.laws.base import Law

LAWS = sorted(REGISTRY.items())
IDS = [k for k, _ in LAWS]

# A plausible value for every run variable (base units), used to call every output method.
TYPICAL = {
    "params": 1.3e9, "non_embedding_params": 1.2e9, "active_params": 1.3e9,
    "active_non_embedding_params": 1.2e9, "tokens": 2.6e10, "seq_len": 2048.0,
    "flops_per_token": 7.5e9, "deepseek_flops_per_token": 7.5e9, "deepseek_compute": 2e20,
    "compute_flops": 2e20, "chinchilla_compute": 2e20, "batch_tokens": 1e6, "peak_lr": 3e-4,
    "critical_batch_tokens": 2e6, "reference_lr": 3e-4, "reference_tokens": 1e10,
    "reference_batch_tokens": 5e5, "peak_flops": 989e12, "mfu": 0.4, "accelerator_count": 64.0,
    "final_loss": 2.5, "width_multiplier": 4.0, "depth_multiplier": 2.0, "head_dim_multiplier": 1.0,
}


def _outputs(law: Law):
    for quantity, out in type(law).outputs.items():
        yield quantity, out, getattr(law, out.method)


@pytest.mark.parametrize(("key", "law"), LAWS, ids=IDS)
def test_provenance_and_tables(key, law):
    assert key == law.registry_key
    assert law.provenance.citation.strip(), f"{key}: no citation"
    assert law.provenance.source.strip(), f"{key}: no source"
    assert type(law).formula.strip() and type(law).title.strip()
    assert type(law).outputs, f"{key}: gives nothing"
    for symbol, spec in type(law).inputs.items():
        assert spec.meaning and spec.variable, f"{key}.{symbol}: input undocumented"
        assert spec.variable in TYPICAL, f"{key}.{symbol}: unknown run variable {spec.variable}"
    for name, lo, hi in law.provenance.fitted_range:
        assert 0 < lo <= hi, f"{key}: fitted range of {name} is not an interval"
    for _quantity, out, method in _outputs(law):
        params = inspect.signature(method).parameters
        assert set(params) <= set(type(law).inputs), f"{key}.{out.method}: undeclared inputs"


@pytest.mark.parametrize(("key", "law"), LAWS, ids=IDS)
def test_scalars_in_give_finite_numbers_out(key, law):
    for quantity, _out, _method in _outputs(law):
        value = law.evaluate(quantity, TYPICAL)
        assert math.isfinite(value), f"{key}.{quantity} = {value}"


@pytest.mark.parametrize(("key", "law"), LAWS, ids=IDS)
def test_arrays_in_give_arrays_out(key, law):
    for _quantity, out, method in _outputs(law):
        kwargs = law.arguments(out.method, TYPICAL)
        if not kwargs:
            continue
        arrays = {k: np.array([v, 2 * v, 4 * v]) for k, v in kwargs.items()}
        if "mfu" in arrays:
            arrays["mfu"] = np.array([0.4, 0.3, 0.2])
        got = np.asarray(method(**arrays))
        assert got.shape == (3,), f"{key}.{out.method} returned shape {got.shape}"
        scalar = float(method(**kwargs))
        assert got[0] == pytest.approx(scalar), f"{key}.{out.method}: array and scalar disagree"


@pytest.mark.parametrize(("key", "law"), LAWS, ids=IDS)
@pytest.mark.parametrize("bad", [0.0, -7e9, float("nan"), float("inf")])
def test_bad_values_rejected_with_the_standard_message(key, law, bad):
    for _quantity, out, method in _outputs(law):
        kwargs = law.arguments(out.method, TYPICAL)
        for symbol in kwargs:
            with pytest.raises(InvalidInputError) as err:
                method(**{**kwargs, symbol: bad})
            msg = str(err.value)
            assert msg.startswith(f"The '{symbol}' parameter of "), msg
            assert " must be " in msg and msg.endswith(" instead."), msg


@pytest.mark.parametrize(("key", "law"), LAWS, ids=IDS)
def test_extrapolation_is_one_inside_and_grows_outside(key, law):
    ranges = law.provenance.range_dict()
    for name, (lo, hi) in ranges.items():
        if name not in type(law).inputs:
            continue
        inside = {name: math.sqrt(lo * hi)}
        assert law.extrapolation(inside)[0] == pytest.approx(1.0)
        factor, reasons = law.extrapolation({name: 10 * hi})
        assert factor == pytest.approx(10.0) and reasons
        factor, _ = law.extrapolation({name: lo / 4})
        assert factor == pytest.approx(4.0)


def _law_classes():
    import importlib
    import pkgutil

    import hpadvisor.laws as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        importlib.import_module(f"hpadvisor.laws.{info.name}")
    todo, seen = [Law], []
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in seen:
                seen.append(sub)
                todo.append(sub)
    return seen


#: Each declared kind and the method a law of that kind offers (Law.kinds).
KIND_METHODS = {"curve": "curve", "sensitivity": "relative_loss_cost", "timescale": "timescale"}


def test_kinds_are_declared_exactly_by_the_laws_that_have_them():
    classes = _law_classes()
    assert len(classes) > 30
    declared = {cls.__name__: set(cls.kinds) for cls in classes if cls.kinds}
    by_method = {cls.__name__: {k for k, m in KIND_METHODS.items() if callable(getattr(cls, m, None))}
                 for cls in classes}
    for name, kinds in declared.items():
        assert kinds <= {*KIND_METHODS, "reference-run"}, name
    assert {n: k - {"reference-run"} for n, k in declared.items() if k - {"reference-run"}} == \
        {n: k for n, k in by_method.items() if k}
    assert {n for n, k in declared.items() if "reference-run" in k} == {"Bjorck"}
    assert {k for k, law in REGISTRY.items() if "curve" in law.kinds} == {"mpl-25m", "mpl-100m", "mpl-400m"}
