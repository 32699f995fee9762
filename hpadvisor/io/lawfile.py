"""Law files: one versioned YAML format for published, edited and fitted laws.

    hpadvisor_law_file: 1          # format version; a newer one is refused with a clear message
    law: chinchilla                # the law's form (a class key from `hpadvisor laws`)
    name: chinchilla@my-ladder     # the key it is registered under (default: form@file stem)
    constants: {E: 1.8, A: 480.0, B: 2000.0, alpha: 0.35, beta: 0.37}
    provenance:
      citation: fitted by hpadvisor on ladder.csv
      source: ...
      fitted_range: {N: [5.0e7, 1.6e10], D: [2.5e8, 3.2e11]}
      notes: ...
    fit: {...}                     # optional: data files and hashes, intervals, fit quality

A loaded law is an instance of the same class as the published one (``dataclasses.replace``), so
every command uses it the same way.  ``recommend --laws FILE`` puts it first where it applies.
"""

from __future__ import annotations

import dataclasses
import math
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hpadvisor.errors import DataError, InvalidInputError, UnknownLawError, WeakFitWarning, did_you_mean
from hpadvisor.io import plausible
from hpadvisor.laws import REGISTRY
from hpadvisor.laws.base import Law, Provenance

FORMAT_VERSION = 1

#: Law forms by class key (several registry entries may share one form, e.g. the Chinchillas).
FORMS: dict[str, type[Law]] = {}
for _law in REGISTRY.values():
    FORMS.setdefault(type(_law).key, type(_law))
_EXTRA_FORMS: dict[str, type[Law]] = {}


def register_form(cls: type[Law]) -> type[Law]:
    """Make a law class loadable from law files (curve laws, fitted forms defined elsewhere)."""
    _EXTRA_FORMS[cls.key] = cls
    return cls


_EXTRA_LOADED: list[bool] = []


def _forms() -> dict[str, type[Law]]:
    # The curve and fit forms are registered on first use, not at import: `recommend` reads no
    # law file unless asked to, and importing them costs start-up time.
    if not _EXTRA_LOADED:
        _EXTRA_LOADED.append(True)
        _register_curve_forms()
        _register_fit_forms()
    return {**FORMS, **_EXTRA_FORMS}


def to_dict(law: Law, fit: Mapping[str, Any] | None = None) -> dict[str, Any]:
    prov = law.provenance
    data: dict[str, Any] = {
        "hpadvisor_law_file": FORMAT_VERSION,
        "law": type(law).key,
        "name": law.registry_key,
        "constants": {k: float(v) for k, v in law.constants().items()},
        "provenance": {
            "citation": prov.citation,
            "source": prov.source,
            "fitted_range": {n: [float(lo), float(hi)] for n, lo, hi in prov.fitted_range},
            "notes": prov.notes,
            "secondary": prov.secondary,
        },
    }
    if fit:
        data["fit"] = dict(fit)
    return data


def dumps(law: Law, fit: Mapping[str, Any] | None = None) -> str:
    from hpadvisor.io import yamlio

    return yamlio.dumps(to_dict(law, fit))


#: Exponents by name (the loss forms' alpha, beta, gamma; 'exp' in the others').  A decay exponent
#: published > 0 must stay >= 0: at alpha = -5 the loss would rise with N (hpadvisor's fits refuse
#: such a fit, so only a hand-edited file has one).  The lr and batch exponents ('exp' in the name)
#: may take either sign.
EXPONENTS = ("alpha", "beta", "gamma", "alpha_N", "alpha_D", "alpha_B")


def _sign_rule(name: str, default: float | None) -> str | None:
    """Whether a law file's constant must be >= 0: one published >= 0 (a coefficient, a loss floor,
    a curvature, a decay exponent cannot turn negative), except the lr and batch exponents, and
    constants published negative (a cross term)."""
    if default is None or "exp" in name or default < 0:
        return None
    return "non-negative"


def from_dict(data: Any, *, source: str = "law file") -> Law:
    """Build a law from parsed law-file data, validating every field."""
    if not isinstance(data, Mapping) or "hpadvisor_law_file" not in data:
        raise DataError(f"{source}: not an hpadvisor law file (no 'hpadvisor_law_file' key).")
    version = data["hpadvisor_law_file"]
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise DataError(f"{source}: hpadvisor_law_file must be a positive whole number, not {version!r}.")
    if version > FORMAT_VERSION:
        raise DataError(
            f"{source}: law file format {version} is newer than this hpadvisor reads "
            f"({FORMAT_VERSION}). Upgrade hpadvisor."
        )
    unknown = set(data) - {"hpadvisor_law_file", "law", "name", "constants", "provenance", "fit"}
    if unknown:
        key = sorted(unknown)[0]
        raise DataError(f"{source}: unknown key '{key}'.{did_you_mean(key, ['law', 'name', 'constants', 'provenance', 'fit'])}")
    form = data.get("law")
    forms = _forms()
    if not isinstance(form, str) or form not in forms:
        raise DataError(f"{source}: unknown law form {form!r}.{did_you_mean(str(form), forms)}")
    cls = forms[form]
    consts = data.get("constants") or {}
    if not isinstance(consts, Mapping):
        raise DataError(f"{source}: 'constants' must be a mapping of name: number.")
    fields = {f.name for f in dataclasses.fields(cls)} - {"provenance", "name"}
    kwargs: dict[str, float] = {}
    defaults = cls().constants()
    for k, v in consts.items():
        if k not in fields:
            raise DataError(f"{source}: '{k}' is not a constant of {form}.{did_you_mean(str(k), fields)}")
        if isinstance(v, str):  # YAML 1.1 reads 5e2 (no dot) as text: a number written so is one
            try:
                v = float(v.strip())
            except ValueError:
                pass
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
            raise DataError(f"{source}: constant '{k}' must be a finite number, not {v!r}.")
        kwargs[k] = float(v)
        problem = plausible.constant_problem(k, kwargs[k], exponent=plausible.is_exponent(k, form))
        if problem:  # what a fit is refused for (E = 1e308 printed a 300-digit loss)
            raise DataError(f"{source}: constant {problem}: not a law's constant (a fit giving it is refused); "
                            "correct the value or refit (hpadvisor fit ...).")
        sign = _sign_rule(k, defaults.get(k))
        if sign == "non-negative" and not kwargs[k] >= 0:
            raise DataError(f"{source}: constant '{k}' of {form} must be >= 0 (default {defaults[k]:g}); "
                            f"got {kwargs[k]:g}.")
        low, why = getattr(cls, "domain", {}).get(k, (None, ""))
        if low is not None and not kwargs[k] > low:  # a form's own bound (the noise-convolution law's gamma)
            raise DataError(f"{source}: constant '{k}' of {form} must be > {low:g} ({why}); got {kwargs[k]:g}.")
    missing = [k for k in defaults if k not in kwargs]
    if missing:
        raise DataError(f"{source}: constant{'s' if len(missing) > 1 else ''} {', '.join(missing)} missing: "
                        f"a {form} law file gives every constant ({', '.join(defaults)}).")
    prov_data = data.get("provenance") or {}
    if not isinstance(prov_data, Mapping):
        raise DataError(f"{source}: 'provenance' must be a mapping.")
    ranges = prov_data.get("fitted_range") or {}
    if not isinstance(ranges, Mapping):
        raise DataError(f"{source}: provenance.fitted_range must map an input to [low, high].")
    fitted_range = []
    for k, pair in ranges.items():
        ok = (isinstance(pair, (list, tuple)) and len(pair) == 2
              and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in pair))
        if not ok or not (0 <= pair[0] <= pair[1]):
            raise DataError(f"{source}: fitted_range.{k} must be [low, high] with 0 <= low <= high.")
        fitted_range.append((str(k), float(pair[0]), float(pair[1])))
    name = data.get("name") or f"{form}@{Path(source).stem}"
    if not isinstance(name, str):
        raise DataError(f"{source}: 'name' must be a string.")
    provenance = Provenance(
        citation=str(prov_data.get("citation") or f"law file {source}"),
        source=str(prov_data.get("source") or source),
        fitted_range=tuple(fitted_range),
        notes=str(prov_data.get("notes") or ""),
        secondary=bool(prov_data.get("secondary", False)),
    )
    try:
        return cls(**kwargs, name=name, provenance=provenance)
    except TypeError as exc:  # pragma: no cover - fields were checked above
        raise DataError(f"{source}: {exc}") from None


def load(path: str | os.PathLike[str]) -> Law:
    return load_document(path)[0]


def load_document(path: str | os.PathLike[str]) -> tuple[Law, dict[str, Any]]:
    """The law in ``path`` and its ``fit`` section ({} for a published or hand-edited law)."""
    from hpadvisor.io import yamlio

    data, _ = yamlio.load(path, what="law file")
    law = from_dict(data, source=str(path))
    fit = data.get("fit") or {}
    if not isinstance(fit, dict):
        raise DataError(f"{path}: 'fit' must be a mapping.")
    if fit.get("param_count", "total") not in ("total", "non-embedding"):
        raise DataError(f"{path}: fit.param_count must be total or non-embedding, not {fit['param_count']!r}.")
    said = fit.get("warnings", [])
    if not isinstance(said, list) or not all(isinstance(w, str) for w in said):
        raise DataError(f"{path}: fit.warnings must be a list of texts.")
    if fit.get("converged", True) is not True and not said:  # hpadvisor writes one only with the warning why
        raise DataError(f"{path}: fit.converged is {fit['converged']!r} and no warning says why: the fit did not "
                        "converge and its constants are not a law; refit (hpadvisor fit ...).")
    _check_intervals(law, fit, str(path))
    for text in said:  # a weak fit: every command that reads the file says so (cli/base prints it)
        warnings.warn(WeakFitWarning(f"{path}: {text}"), stacklevel=1)  # here: said once however often read
    return law, fit


def _check_intervals(law: Law, fit: Mapping[str, Any], source: str) -> None:
    """Refuse a law file whose constant lies outside its own recorded 95% interval (``fit.intervals_95``
    of a final-loss fit, ``fit.bootstrap.interval_95`` of the others): a fit is refused for it, so the
    constant was edited after the fit, or the intervals were."""
    boot = fit.get("bootstrap")
    for where, section in (("fit.intervals_95", fit.get("intervals_95")),
                           ("fit.bootstrap.interval_95", boot.get("interval_95") if isinstance(boot, Mapping) else None)):
        if section is None:
            continue
        if not isinstance(section, Mapping):
            raise DataError(f"{source}: {where} must map a constant to [low, high].")
        constants = law.constants()
        for name, pair in section.items():
            ok = (isinstance(pair, (list, tuple)) and len(pair) == 2
                  and all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in pair))
            if not ok:
                raise DataError(f"{source}: {where}.{name} must be [low, high], two finite numbers.")
            if name not in constants:
                continue  # a constant of the fit the law does not keep
            if name == "E" and 0 <= constants[name] < 1e-4:
                # a loss floor on the bound 0 of its range: a weak fit, said in fit.warnings, whose interval
                # the fit does not judge (below 1e-6 x its lowest loss; any per-token loss is below 100)
                continue
            problem = plausible.interval_problem(f"constant {name}", constants[name], pair[0], pair[1])
            if problem:
                raise DataError(f"{source}: {problem}, recorded in {where}: the constant or its interval was edited "
                                "after the fit; refit (hpadvisor fit ...) or correct it.")


def check_new_name(name: str | None) -> None:
    """Refuse, before a fit, a name its law file could not be used under: a published law's key
    (``--laws`` refuses such a file, so the fit would be wasted), or an empty name."""
    if name is None:
        return
    if not name.strip():
        raise InvalidInputError("the fitted law's name is empty: give a name such as chinchilla@my-ladder.")
    if name in REGISTRY:
        raise InvalidInputError(f"name '{name}' is a published law's key, which a law file cannot take "
                                f"(--laws would refuse it): give another, e.g. {name}@mine.")


def merge(base: Mapping[str, Law], paths: Sequence[str]) -> tuple[dict[str, Law], list[str]]:
    """The registry plus the laws in ``paths``; returns (laws, keys of the loaded ones)."""
    laws = dict(base)
    loaded: list[str] = []
    source: dict[str, str] = {}
    for path in paths:
        law = load(path)
        key = law.registry_key
        if key in REGISTRY:
            raise DataError(
                f"{path}: name '{key}' is a published law's key; give the law file another 'name'."
            )
        if key in source:  # the second would replace the first unseen
            raise DataError(f"{path}: name '{key}' is also {source[key]}'s; give one of the law files "
                            "another 'name' (the default is <form>@<file stem>).")
        source[key] = str(path)
        laws[key] = law
        loaded.append(key)
    return laws, loaded


def find(key: str) -> Law:
    """A registry law by key, or the law in a law file if ``key`` is a path."""
    if key in REGISTRY:
        return REGISTRY[key]
    if os.path.exists(key):
        return load(key)
    if key.lower().endswith((".yaml", ".yml", ".json")) or os.sep in key:
        raise UnknownLawError(f"law file '{key}' not found (and no registry law has that name). Check the path.")
    raise UnknownLawError(f"unknown law '{key}'.{did_you_mean(key, REGISTRY)} See `hpadvisor laws`.")


def find_document(key: str) -> tuple[Law, dict[str, Any]]:
    """:func:`find`, with the law file's ``fit`` section ({} for a registry law)."""
    if key in REGISTRY or not os.path.exists(key):
        return find(key), {}
    return load_document(key)


def interval_section(fit: Mapping[str, Any], source: str) -> tuple[dict[str, Any] | None, list[Law]]:
    """A curve law file's ``fit.interval`` section (what its prediction intervals need: the
    calibration, the fitted runs' shapes, the other curve laws fitted on the same runs) and those
    other laws, built; ``(None, [])`` for a law file without one (written before intervals).  The
    section's numbers are checked where they are used (``fitting.curve_intervals``)."""
    section = fit.get("interval")
    if section is None:
        return None, []
    where = f"{source}: fit.interval"
    if not isinstance(section, Mapping):
        raise DataError(f"{where} must be a mapping (calibration, runs, other_laws).")
    runs = section.get("runs", [])
    if not isinstance(runs, list) or not all(isinstance(r, Mapping) for r in runs):
        raise DataError(f"{where}.runs must be a list of mappings (name, step, peak_lr, floor_ratio, drop_time).")
    if section.get("calibration") is not None and not isinstance(section["calibration"], Mapping):
        raise DataError(f"{where}.calibration must be a mapping of constant: number.")
    others = section.get("other_laws") or []
    if not isinstance(others, list):
        raise DataError(f"{where}.other_laws must be a list of laws (law, name, constants).")
    laws = []
    for i, item in enumerate(others):
        if not isinstance(item, Mapping):
            raise DataError(f"{where}.other_laws[{i}] must be a mapping (law, name, constants).")
        laws.append(from_dict({"hpadvisor_law_file": FORMAT_VERSION, "law": item.get("law"),
                               "name": item.get("name") or f"{item.get('law')}@other-law-{i}",
                               "constants": item.get("constants")}, source=f"{where}.other_laws[{i}]"))
    return dict(section), laws


def describe(law: Law, *, brief: bool = False) -> dict[str, Any]:
    """Plain-data description of a law (what `laws` and `laws show` print)."""
    prov = law.provenance
    info: dict[str, Any] = {
        "key": law.registry_key,
        "form": type(law).key,
        "title": type(law).title,
        "gives": list(type(law).outputs),
        "fitted_range": {n: [lo, hi] for n, lo, hi in prov.fitted_range},
        "citation": prov.citation,
    }
    if brief:
        return info
    info.update(
        formula=type(law).formula,
        constants={k: float(v) for k, v in law.constants().items()},
        inputs={s: {"meaning": i.meaning, "unit": i.unit, "variable": i.variable}
                for s, i in type(law).inputs.items()},
        outputs={q: {"method": o.method, "unit": o.unit, "description": o.description}
                 for q, o in type(law).outputs.items()},
        source=prov.source,
        notes=prov.notes,
        secondary=prov.secondary,
        checked_against=prov.checked_against,
        input_note=getattr(type(law), "input_note", ""),
    )
    return info


def _register_curve_forms() -> None:
    # Curve laws have several warmup-convention forms; only some are registry entries.
    from hpadvisor.laws.curves import FORMS as CURVE_FORMS

    for cls in CURVE_FORMS:
        register_form(cls)



def _register_fit_forms() -> None:
    # Forms only `hpadvisor fit` produces: parameter-count variants, the batch law.
    from hpadvisor.laws.fitted_forms import FORMS as FIT_FORMS

    for cls in FIT_FORMS:
        register_form(cls)

