"""Fitting the critical batch size to steps-to-target-loss studies (``hpadvisor fit batch``).

Per model (one target loss): steps(B) = S_min (1 + B_noise / B), McCandlish et al. 2018's
trade-off, fitted with the Huber-on-log objective.  Zhang et al. 2024 call the critical batch the
batch at which steps exceed perfect linear scaling by 20%.  Linear scaling is measured from a
reference batch B_ref (their notebook: the fitted steps at 256 sequences, the batch their target
losses were set at): steps(B) = (1 + overhead) steps(B_ref) B_ref / B solves to

    B_crit = overhead x B_noise + (1 + overhead) x B_ref

(B_ref = 0 is the small-batch asymptote S_min B_noise / B, giving overhead x B_noise).  Across
models: B_crit = coef (D / 1e9)^d_exp (N / 1e9)^n_exp tokens, least squares on logs; when D and N
move together (a fixed tokens-per-parameter ladder) only the data exponent is fitted.

Intervals: each model's runs are resampled (row bootstrap), and each resample's per-model critical
batches are carried through the power-law fit, so the exponents' intervals include the per-model
uncertainty.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from hpadvisor.errors import DataError, FitError, InvalidInputError
from hpadvisor.fitting import acceptance
from hpadvisor.fitting.core import huber_log_fit, interval
from hpadvisor.laws.base import Provenance
from hpadvisor.laws.fitted_forms import BY_PARAM_COUNT

if TYPE_CHECKING:
    from hpadvisor.laws.fitted_forms import CriticalBatchFit

#: Zhang et al.'s reference batch for "perfect linear scaling" (plots/chinchilla.ipynb: 1.2 x 256).
REFERENCE_SEQS = 256


def resolve_reference_batch(text: str | float | None, seq_len: float | None) -> float:
    """The reference batch in tokens: '256 seqs' (the default), '131072 tokens', or 0."""
    from hpadvisor.spec.units import parse_quantity

    if text is None:
        if seq_len is None:
            raise InvalidInputError(
                f"the critical batch is measured from linear scaling at a reference batch (Zhang et al.: "
                f"{REFERENCE_SEQS} seqs), which needs the sequence length: give `seq_len`, or "
                "`reference_batch` '<n> tokens' (0 for the small-batch asymptote)."
            )
        return REFERENCE_SEQS * float(seq_len)
    value, unit = parse_quantity(text, name="`reference_batch`", units=("tokens", "sequences"), positive=False)
    if value < 0:
        raise InvalidInputError(f"`reference_batch` must be >= 0, got {text!r}.")
    if unit == "sequences":
        if seq_len is None:
            raise InvalidInputError(f"`reference_batch` {text!r} counts sequences: give `seq_len` too, or say tokens.")
        return value * float(seq_len)
    if unit is None and value != 0:
        raise InvalidInputError(f"`reference_batch` {text!r}: say the unit, e.g. '256 seqs' or '131072 tokens'.")
    return value


@dataclass
class ModelFit:
    label: str
    N: float
    D: float | None
    points: int
    s_min: float
    b_noise: float
    b_crit: float
    b_crit_interval: tuple[float, float] | None
    mre: float
    held_out: bool

    def to_dict(self, seq_len: float | None) -> dict[str, Any]:
        out: dict[str, Any] = {"model": self.label, "N": self.N, "D": self.D, "points": self.points,
                               "S_min": self.s_min, "B_noise_tokens": self.b_noise,
                               "critical_batch_tokens": self.b_crit, "mre_steps": self.mre,
                               "held_out": self.held_out}
        if self.b_crit_interval:
            out["critical_batch_interval_95"] = list(self.b_crit_interval)
        if seq_len:
            out["critical_batch_seqs"] = self.b_crit / seq_len
        return out


@dataclass
class BatchFit:
    law: Any
    models: list[ModelFit]
    intervals: dict[str, tuple[float, float]]
    holdout: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)
    rows_used: int = 0
    rows_excluded: dict[str, int] = field(default_factory=dict)
    param_count: str = "total"
    seq_len: float | None = None
    n_boot: int = 0
    reference_batch_tokens: float = 0.0
    warnings: tuple[str, ...] = ()  # a weak fit's (fitting.acceptance), written to its law file

    def info(self) -> dict[str, Any]:
        return {"kind": "batch", "param_count": self.param_count, "rows_used": self.rows_used,
                "reference_batch_tokens": self.reference_batch_tokens,
                "rows_excluded": dict(self.rows_excluded),
                "models": [m.to_dict(self.seq_len) for m in self.models],
                "bootstrap": {"resamples": self.n_boot,
                              "interval_95": {k: [float(a), float(b)] for k, (a, b) in self.intervals.items()}},
                "holdout": self.holdout, "notes": list(self.notes),
                **({"warnings": list(self.warnings)} if self.warnings else {})}


def _fit_model(B: np.ndarray, S: np.ndarray, start: np.ndarray | None = None) -> np.ndarray:
    lnB = np.log(B)

    def predict(p):
        return np.exp(p[0]) * (1.0 + np.exp(p[1] - lnB))

    def jac(p):
        t = np.exp(p[1] - lnB)
        return np.column_stack([np.ones_like(lnB), t / (1.0 + t)])

    if start is None:
        starts = [np.array([math.log(S.min()) + dz, math.log(b)]) for dz in (-1.0, 0.0)
                  for b in np.geomspace(B.min(), B.max(), 5)]
    else:
        starts = [start]
    # Plain least squares on log steps, as Zhang et al.'s notebook fits it (a Huber loss with
    # delta 1e-3 down-weighted the steepest points and moved the 302M and 604M batches by 4%).
    res = huber_log_fit(predict, S, starts, jac=jac, delta=LEAST_SQUARES)
    if not res.converged:
        raise FitError("Optimal parameters not found: steps(B) = S_min (1 + B_noise/B) did not converge.")
    return res.params


def _power_law(N, D, cbs, use_n: bool) -> np.ndarray:
    cols = [np.ones_like(cbs), np.log(D / 1e9)] + ([np.log(N / 1e9)] if use_n else [])
    X = np.column_stack(cols)
    coef, _, rank, _ = np.linalg.lstsq(X, np.log(cbs), rcond=None)
    if rank < X.shape[1]:
        raise FitError("Optimal parameters not found: the power law's design is rank deficient.")
    return np.array([math.exp(coef[0]), coef[1], coef[2] if use_n else 0.0])


def model_labels(frame) -> np.ndarray:
    """One label per row naming its model: the model column, else N."""
    if "model" in frame.columns:
        return frame["model"].astype(str).to_numpy()
    return np.array([f"{n:.4g}" for n in frame["N"].to_numpy(float)])


#: A Huber threshold no log residual reaches: the Huber loss is then plain least squares.
LEAST_SQUARES = 1e6

#: A fitted B_noise this far beyond the batches tried is not located by them.
BEYOND = 10.0


@dataclass
class _Models:
    """The study as arrays: N, batch (tokens), steps, D (None without tokens), held-out rows, and
    each model's label, rows and held-out flags."""

    N: np.ndarray
    B: np.ndarray
    S: np.ndarray
    D: np.ndarray | None
    held: np.ndarray
    groups: list[tuple[str, np.ndarray, np.ndarray]]


def _check_batch_options(n_boot: int, overhead: float) -> None:
    if n_boot < 0:
        raise InvalidInputError(f"`n_boot` must be >= 0 (0 = no intervals), not {n_boot}.")
    if not (0 < overhead < 10):
        raise InvalidInputError(f"`overhead` must be in (0, 10), e.g. 0.2 (20%); got {overhead:g}.")


def _tokens(df, N: np.ndarray, tokens_per_param: float | None, notes: list[str]) -> np.ndarray | None:
    """D per row: the tokens column, else tokens_per_param x N, else None (fitted against N)."""
    if "D" in df.columns:
        return df["D"].to_numpy(float)
    if tokens_per_param is not None:
        if not (tokens_per_param > 0 and math.isfinite(tokens_per_param)):
            raise InvalidInputError(f"`tokens_per_param` must be > 0, got {tokens_per_param:g}.")
        notes.append(f"D = {tokens_per_param:g} N (`tokens_per_param`).")
        return tokens_per_param * N
    notes.append("no tokens column and no `tokens_per_param`: the critical batch is fitted against N only.")
    return None


def _study(table, tokens_per_param: float | None, holdout: np.ndarray | None, notes: list[str]) -> _Models:
    """The study's models, refused on the data's own problems first."""
    df = table.frame
    N = df["N"].to_numpy(float)
    B = df["batch_tokens"].to_numpy(float)
    S = df["steps"].to_numpy(float)
    labels = model_labels(df)
    D = _tokens(df, N, tokens_per_param, notes)
    held = np.zeros(len(df), dtype=bool) if holdout is None else np.asarray(holdout, bool)
    groups = []
    for lab in list(dict.fromkeys(labels)):
        rows = np.flatnonzero(labels == lab)
        if np.unique(B[rows]).size < 3:
            raise InvalidInputError(
                f"batch study '{table.path}': model {lab} has {np.unique(B[rows]).size} batch sizes; "
                f"steps(B) needs at least 3 (rows {int(df['row'].iloc[rows[0]])}...)."
            )
        if np.unique(N[rows]).size > 1:
            raise DataError(f"batch study '{table.path}': model {lab} has several N values; one model per N.")
        part = held[rows]
        if part.any() and not part.all():
            raise InvalidInputError(f"`holdout` selects only some rows of model {lab}; select whole models, e.g. 'N >= 1e9'.")
        groups.append((lab, rows, part))
    n_train = sum(not part.all() for _, _, part in groups)
    if n_train < 2:
        raise InvalidInputError(
            f"batch study '{table.path}': {n_train} model(s) to fit; the critical batch's power law "
            f"needs at least 2 models (different N or D)."
        )
    return _Models(N=N, B=B, S=S, D=D, held=held, groups=groups)


def _reference_note(b_ref: float, overhead: float, seq_len: float | None) -> str:
    if b_ref > 0:
        return (f"B_crit = {overhead:g} B_noise + {1 + overhead:g} x {b_ref:.6g} tokens: {overhead:.0%} more "
                f"steps than linear scaling from the reference batch {b_ref:.6g} tokens"
                + (f" ({b_ref / seq_len:g} seqs)" if seq_len else "") + ".")
    return (f"B_crit = {overhead:g} B_noise: {overhead:.0%} more steps than the small-batch asymptote "
            "S_min B_noise / B (reference batch 0).")


def _fit_one_model(m: _Models, lab: str, rows: np.ndarray, part: np.ndarray, critical: Callable[[float], float],
                   n_boot: int, rng: np.random.Generator) -> tuple[ModelFit, np.ndarray]:
    """One model's steps(B) fit, its critical batch and that batch's bootstrap resamples."""
    B, S = m.B, m.S
    p = _fit_model(B[rows], S[rows])
    s_min, b_noise = math.exp(p[0]), math.exp(p[1])
    lo_b, hi_b = float(B[rows].min()), float(B[rows].max())
    if b_noise > BEYOND * hi_b:
        raise FitError(
            f"Optimal parameters not found: model {lab}'s steps fall in proportion to the batch up to the "
            f"largest batch tried ({hi_b:.4g} tokens): its critical batch lies beyond it (a lower bound, "
            "not a value); add larger batches.")
    if b_noise < lo_b / BEYOND:
        raise FitError(
            f"Optimal parameters not found: model {lab}'s steps do not fall as the batch grows (from "
            f"{lo_b:.4g} to {hi_b:.4g} tokens): is the steps column optimizer steps to the target loss "
            "(not tokens)?")
    pred = s_min * (1 + b_noise / B[rows])
    samples = []
    for _ in range(n_boot):
        idx = rows[rng.integers(0, rows.size, rows.size)]
        if np.unique(B[idx]).size < 2:
            samples.append(np.nan)
            continue
        try:
            samples.append(critical(math.exp(_fit_model(B[idx], S[idx], start=p)[1])))
        except FitError:
            samples.append(np.nan)
    samp = np.array(samples, dtype=float)
    ci = None
    if samp.size and np.isfinite(samp).sum() > 10:
        lo, hi = interval(samp[np.isfinite(samp)])
        ci = (float(lo), float(hi))
    fit = ModelFit(label=lab, N=float(m.N[rows[0]]), D=None if m.D is None else float(np.mean(m.D[rows])),
                   points=int(rows.size), s_min=s_min, b_noise=b_noise, b_crit=critical(b_noise),
                   b_crit_interval=ci, mre=float(np.mean(np.abs(pred / S[rows] - 1))), held_out=bool(part.all()))
    return fit, samp


def _power_law_intervals(mN: np.ndarray, mD: np.ndarray, boot: np.ndarray,
                         use_n: bool) -> dict[str, tuple[float, float]]:
    """95% intervals of the power law over the resamples of every model's critical batch
    (``boot``: models x resamples); a resample with a failed model is skipped."""
    fits = []
    for j in range(boot.shape[1]):
        col = boot[:, j]
        if np.all(np.isfinite(col)):
            try:
                fits.append(_power_law(mN, mD, col, use_n))
            except FitError:
                pass
    if not fits:
        return {}
    lo, hi = interval(np.array(fits))
    return {k: (float(a), float(b)) for k, a, b in zip(("coef", "d_exp", "n_exp"), lo, hi, strict=True)
            if k != "n_exp" or use_n}


def _holdout_report(law, models: list[ModelFit]) -> list[dict[str, Any]]:
    report = []
    for m in models:
        if m.held_out:
            pred = float(law.critical_batch_tokens(m.N, m.D if m.D is not None else m.N))
            report.append({"model": m.label, "N": m.N, "D": m.D, "predicted_critical_batch_tokens": pred,
                           "fitted_critical_batch_tokens": m.b_crit, "relative_error": pred / m.b_crit - 1})
    return report


def fit_batch(
    table,
    *,
    overhead: float = 0.2,
    reference_batch: str | float | None = None,
    tokens_per_param: float | None = None,
    n_boot: int = 200,
    seed: int = 0,
    holdout: np.ndarray | None = None,
    name: str = "cbs-fit",
    seq_len: float | None = None,
    progress: Callable[[int], None] | None = None,
) -> BatchFit:
    _check_batch_options(n_boot, overhead)
    seq_len = seq_len if seq_len is not None else table.seq_len
    notes = list(table.notes)
    study = _study(table, tokens_per_param, holdout, notes)
    D, held = study.D, study.held
    b_ref = resolve_reference_batch(reference_batch, seq_len)
    notes.append(_reference_note(b_ref, overhead, seq_len))

    def critical(b_noise: float) -> float:
        return overhead * b_noise + (1 + overhead) * b_ref

    rng = np.random.default_rng(seed)  # one stream through the models, in their order
    models: list[ModelFit] = []
    boot_cbs: list[np.ndarray] = []
    for lab, rows, part in study.groups:
        model, samp = _fit_one_model(study, lab, rows, part, critical, n_boot, rng)
        models.append(model)
        boot_cbs.append(samp)
        if progress is not None:
            progress(len(models))
    train = [i for i, m in enumerate(models) if not m.held_out]
    mN = np.array([models[i].N for i in train])
    mD = np.array([models[i].D if D is not None else models[i].N for i in train])
    cbs = np.array([models[i].b_crit for i in train])
    # N and D vary independently only if ln D is not a fixed shift of ln N.
    use_n = D is not None and len(train) >= 3 and np.ptp(np.log(mD) - np.log(mN)) > 0.05 and np.ptp(np.log(mN)) > 0.05
    if D is not None and not use_n:
        notes.append("D and N move together across the models: the law is fitted in D only "
                     "(n_exp = 0; Zhang et al. find the critical batch grows with data, not model size).")
    coefs = _power_law(mN, mD, cbs, use_n)
    intervals = _power_law_intervals(mN, mD, np.array([boot_cbs[i] for i in train]), use_n) if n_boot > 0 else {}
    law = _batch_law(table, coefs, mN, mD if D is not None else None, overhead=overhead, b_ref=b_ref,
                     n_models=len(train), name=name, notes=notes)
    if D is None and "d_exp" in intervals:
        intervals["n_exp"] = intervals.pop("d_exp")
    excluded = {"held_out": int(held.sum())} if held.any() else {}
    return acceptance.accept_batch(BatchFit(  # refused if not usable; a weak fit carries its warnings
        law=law, models=models, intervals=intervals, holdout=_holdout_report(law, models), notes=notes,
        rows_used=int((~held).sum()), rows_excluded=excluded, param_count=table.param_count,
        seq_len=seq_len, n_boot=n_boot, reference_batch_tokens=b_ref))


def _batch_law(table, coefs: np.ndarray, mN: np.ndarray, mD: np.ndarray | None, *, overhead: float, b_ref: float,
               n_models: int, name: str, notes: list[str]):
    """The fitted law; without D (``mD`` None) its exponent is N's."""
    cls = cast("dict[str, type[CriticalBatchFit]]", BY_PARAM_COUNT["batch"])[table.param_count]
    if mD is None:
        notes.append("without D the law reads its D input as N (exponent in N): give tokens to fit it in D.")
    fitted_range = [("N", float(mN.min()), float(mN.max()))]
    if mD is not None:
        fitted_range.append(("D", float(mD.min()), float(mD.max())))
    law = cls(coef=float(coefs[0]), d_exp=float(coefs[1]), n_exp=float(coefs[2]), overhead=overhead, name=name,
              provenance=Provenance(
                  citation=f"fitted by hpadvisor on {table.path}",
                  source=f"{table.path} (sha256 {table.sha256[:12]}); steps(B) = S_min (1 + B_noise/B) per "
                  f"model, B_crit = {overhead:g} B_noise + {1 + overhead:g} x {b_ref:.6g} tokens (reference batch); "
                  f"power law over {n_models} models",
                  fitted_range=tuple(fitted_range),
                  notes=f"N = {table.param_count} parameters; batch in tokens.",
              ))
    return _n_only(law) if mD is None else law


def _n_only(law):
    """Without D, the fitted exponent is N's: store it as n_exp so D does not enter."""
    import dataclasses

    return dataclasses.replace(law, n_exp=law.d_exp, d_exp=0.0)
