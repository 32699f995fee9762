"""Spec -> advice: every recommended value with the law that gave it and what the others say.

For each quantity the advisor asks every law that offers it (and whose inputs the run supplies),
takes the primary law's value, and keeps the others as alternatives, each with its own
extrapolation factor.  It never averages.  A value computed from another one (min lr from peak lr,
warmup steps from batch) inherits that one's extrapolation, so a flag is never lost on the way.

Order of work (each step may use the values before it):
loss -> lr and batch -> batch in use -> critical batch and its trade-off -> schedule ->
optimizer -> compute and time.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from hpadvisor.errors import InvalidInputError, UnknownLawError, did_you_mean
from hpadvisor.laws import REGISTRY, Law
from hpadvisor.spec import RunSpec, units

#: Groups in display order, and which quantities belong to each.
GROUPS: dict[str, tuple[str, ...]] = {
    "learning rate": ("peak_lr", "min_lr"),
    "batch": (
        "batch_tokens",
        "batch_sequences",
        "critical_batch_tokens",
        "batch_data_overhead",
        "batch_step_overhead",
    ),
    "schedule": ("total_steps", "warmup_steps", "decay_fraction"),
    "optimizer": ("weight_decay", "adam_beta2"),
    "loss": ("final_loss",),
    "compute": (
        "compute_flops",
        "tokens_per_param",
        "compute_optimal_params",
        "compute_optimal_tokens",
        "compute_optimal_loss_gap",
        "accelerator_hours",
        "wall_clock_hours",
    ),
}

#: Default primary law per quantity, in order of preference.
PREFERENCE: dict[str, tuple[str, ...]] = {
    "peak_lr": ("steplaw", "deepseek", "porian", "kaplan"),
    "batch_tokens": ("steplaw", "deepseek", "porian"),
    "final_loss": ("chinchilla-epoch", "chinchilla", "chinchilla-unrounded", "kaplan"),
    "compute_optimal_params": ("chinchilla-epoch", "chinchilla", "chinchilla-unrounded", "deepseek"),
    "compute_optimal_tokens": ("chinchilla-epoch", "chinchilla", "chinchilla-unrounded", "deepseek"),
    "critical_batch_tokens": ("zhang-cbs", "kaplan"),
    "warmup_steps": ("olmo-warmup", "deepseek-warmup"),
    # Power Lines leads: its optimal timescale falls with tokens per parameter, as measured on ~400
    # runs; the constant-timescale rule holds Llama 2 7B's timescale (297 tokens/param) everywhere.
    "weight_decay": ("powerlines-wd", "adamw-timescale", "default-wd"),
    # OLMo-core's threshold leads: the half-life rule's only published anchor (Marin, 0.98 at
    # 524,288 tokens) comes from small sweeps and gives beta2 ~0.86 at a 4M-token batch.
    "adam_beta2": ("olmo-beta2", "beta2-halflife"),
    "compute_flops": ("deepseek-flops", "6nd", "6nd-total"),
    "decay_fraction": ("hagele-wsd",),
    "accelerator_hours": ("mfu-time",),
    "wall_clock_hours": ("mfu-time",),
    "batch_data_overhead": ("mccandlish",),
    "batch_step_overhead": ("mccandlish",),
}

#: The final-lr rule that fits each schedule shape first; the others are shown as alternatives.
MIN_LR_RULE = {
    "cosine": "cosine-10x",
    "linear": "d2z",
    "wsd": "d2z",
    "constant": "constant",
    "multistep": "deepseek-multistep",
}
MIN_LR_RULES = ("cosine-10x", "d2z", "steplaw-floor", "deepseek-multistep")


@dataclass(frozen=True)
class Recommendation:
    """One row of the advice.  ``value`` is None where no applicable law gives a number."""

    name: str
    group: str
    value: float | None
    unit: str
    law: str
    description: str = ""
    formula: str = ""
    source: str = ""
    alternatives: Mapping[str, float | None] = field(default_factory=dict)
    alternatives_extrapolation: Mapping[str, float] = field(default_factory=dict)
    extrapolation_factor: float = 1.0
    notes: tuple[str, ...] = ()

    @property
    def extrapolated(self) -> bool:
        return self.extrapolation_factor > 1.0 + 1e-9

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "group": self.group,
            "value": _json_number(self.value),
            "unit": self.unit,
            "law": self.law,
            "alternatives": {k: _json_number(v) for k, v in self.alternatives.items()},
            "extrapolated": self.extrapolated,
            "extrapolation_factor": _round(self.extrapolation_factor),
            "alternatives_extrapolation_factor": {
                k: _round(v) for k, v in self.alternatives_extrapolation.items()
            },
            "description": self.description,
            "formula": self.formula,
            "source": self.source,
            "notes": list(self.notes),
        }

    def spread(self) -> float | None:
        """max/min over the primary and the alternatives (positive values only), or None."""
        vals = [v for v in [self.value, *self.alternatives.values()] if v is not None and v > 0]
        if len(vals) < 2:
            return None
        return max(vals) / min(vals)


@dataclass(frozen=True)
class Advice:
    spec: RunSpec
    recommendations: tuple[Recommendation, ...]
    laws: Mapping[str, Law]
    #: per-group settings carried from the run file's `proxy` (hpadvisor.transfer.plan.TransferPlan)
    transfer: Any = None
    #: the law files given that no quantity of the table uses: (law key, a note saying so)
    unused: tuple[tuple[str, str], ...] = ()

    def __getitem__(self, name: str) -> Recommendation:
        for rec in self.recommendations:
            if rec.name == name:
                return rec
        raise KeyError(name)

    def get(self, name: str) -> Recommendation | None:
        try:
            return self[name]
        except KeyError:
            return None

    @property
    def notes(self) -> tuple[str, ...]:
        """Notes on the advice as a whole (each law file that no quantity used)."""
        return tuple(note for _, note in self.unused)

    def value(self, name: str) -> float | None:
        rec = self.get(name)
        return None if rec is None else rec.value

    def to_dict(self) -> dict[str, Any]:
        from hpadvisor import __version__

        out = {
            "hpadvisor_version": __version__,
            "spec": spec_dict(self.spec),
            "recommendations": [r.to_dict() for r in self.recommendations],
            "assumptions": list(self.spec.assumptions),
        }
        if self.transfer is not None:
            out["transfer"] = self.transfer.to_dict()
        if self.notes:
            out["notes"] = list(self.notes)
        return out


def _round(x: float) -> float:
    return float(f"{x:.6g}")


def _json_number(x: float | None) -> float | None:
    if x is None or not math.isfinite(x):
        return None
    return float(x)


def spec_dict(spec: RunSpec) -> dict[str, Any]:
    """The normalised inputs, in base units, as plain data (the ``spec`` object of the JSON)."""
    m = spec.model
    out: dict[str, Any] = {
        "name": spec.name,
        "params": m.params,
        "non_embedding_params": m.non_embedding_params,
        "active_params": m.active_params,
        "active_non_embedding_params": m.active_non_embedding_params,
        "tokens": spec.tokens,
        "tokens_per_param": spec.tokens / m.params,
        "seq_len": spec.seq_len,
        "flops_per_token": spec.flops_per_token,
        "compute_flops": spec.compute_flops,
        "compute_budget": spec.compute_budget,
        "planned_batch_tokens": spec.batch_tokens,
        "optimizer": {k: v for k, v in vars(spec.optimizer).items()},
        "schedule": {k: v for k, v in vars(spec.schedule).items()},
    }
    if m.architecture is not None:
        out["architecture"] = dict(vars(m.architecture))
    if spec.hardware is not None:
        out["hardware"] = dict(vars(spec.hardware))
    return out


# ------------------------------------------------------------------------------------------------


def resolve_law(key: str, laws: Mapping[str, Law]) -> Law:
    if key not in laws:
        raise UnknownLawError(f"unknown law '{key}'.{did_you_mean(key, laws)} See `hpadvisor laws`.")
    return laws[key]


def allocator(laws: Mapping[str, Law] | None = None, loss_law: str | None = None):
    """A function C -> (N_opt, D_opt, law key) for a budget-only run spec."""
    laws = dict(REGISTRY if laws is None else laws)
    key = loss_law or _first_available("compute_optimal_params", laws)
    law = resolve_law(key, laws)
    if "compute_optimal_params" not in law.outputs:
        raise InvalidInputError(f"law '{key}' gives no compute-optimal allocation; choose a Chinchilla law.")

    def allocate(C: float) -> tuple[float, float, str]:
        # Chinchilla's C = 6 N D; DeepSeek's C = M D: each law reads the budget in its own terms.
        variables = {"chinchilla_compute": C, "deepseek_compute": C}
        return (
            law.evaluate("compute_optimal_params", variables),
            law.evaluate("compute_optimal_tokens", variables),
            law.registry_key,
        )

    return allocate


def _first_available(quantity: str, laws: Mapping[str, Law]) -> str:
    for key in PREFERENCE.get(quantity, ()):
        if key in laws:
            return key
    for key, law in laws.items():
        if quantity in law.outputs:
            return key
    raise InvalidInputError(f"no law gives {quantity}.")


class _Builder:
    """Accumulates recommendations and the run variables they feed."""

    def __init__(self, spec: RunSpec, laws: Mapping[str, Law], choices: Mapping[str, str],
                 preferred: Sequence[str]):
        self.spec = spec
        self.laws = laws
        self.choices = choices
        self.preferred = tuple(preferred)
        self.vars: dict[str, float | None] = dict(spec.variables())
        hw = spec.hardware
        if hw is not None:
            self.vars.update(peak_flops=hw.peak_flops, mfu=hw.mfu,
                             accelerator_count=float(hw.count) if hw.count else None)
        self.recs: dict[str, Recommendation] = {}
        # set by the stages
        self.batch: Recommendation | None = None  # the batch law's row
        self.own_batch: dict[str, float | None] = {}  # each lr/batch law's own batch
        self.planned: float | None = None  # the run file's batch
        self.b_use: float = 0.0  # the batch in use: planned, else the batch law's
        self.from_batch: tuple[str, ...] = ()  # what rows computed from b_use inherit
        self.steps = 0

    # -- generic ---------------------------------------------------------------------------------
    def candidates(self, quantity: str, keys: Sequence[str] | None = None) -> list[str]:
        """Laws that give ``quantity`` and whose inputs the run supplies, primary first."""
        pool = [k for k in (keys or self.laws) if k in self.laws and quantity in self.laws[k].outputs]
        usable = [k for k in pool if all(self.vars.get(v) is not None for v in self.laws[k].needs(quantity))]
        chosen = self.choices.get(quantity)
        if chosen is not None:
            law = resolve_law(chosen, self.laws)
            if quantity not in law.outputs:
                givers = sorted(k for k, lw in self.laws.items() if quantity in lw.outputs)
                raise InvalidInputError(
                    f"law '{chosen}' does not give {quantity}. Laws that do: {', '.join(givers)}."
                )
            if chosen not in usable:
                missing = [v for v in law.needs(quantity) if self.vars.get(v) is None]
                raise InvalidInputError(
                    f"law '{chosen}' needs {', '.join(missing)} for {quantity}; the run does not give it."
                )
        order = [chosen] if chosen else []
        order += [k for k in self.preferred if k in usable]  # fitted laws lead
        order += [k for k in PREFERENCE.get(quantity, ()) if k in usable]
        order += usable
        seen: list[str] = []
        for k in order:
            if k and k not in seen and k in usable:
                seen.append(k)
        return seen

    def factor(self, key: str) -> tuple[float, list[str]]:
        law = self.laws[key]
        return law.extrapolation(law.symbols(self.vars))

    def add(
        self,
        name: str,
        value: float | None,
        unit: str,
        law: str,
        *,
        description: str = "",
        formula: str = "",
        source: str = "",
        alternatives: Mapping[str, float | None] | None = None,
        alt_factors: Mapping[str, float] | None = None,
        factor: float = 1.0,
        notes: Sequence[str] = (),
        inherit: Sequence[str] = (),
    ) -> Recommendation:
        for parent in inherit:
            rec = self.recs.get(parent)
            if rec is not None and rec.extrapolated:
                factor = max(factor, rec.extrapolation_factor)
                notes = [*notes, f"inherits the extrapolation of {parent} ({rec.law})."]
        group = next(g for g, names in GROUPS.items() if name in names)
        rec = Recommendation(
            name=name, group=group, value=value, unit=unit, law=law, description=description,
            formula=formula, source=source, alternatives=dict(alternatives or {}),
            alternatives_extrapolation=dict(alt_factors or {}), extrapolation_factor=factor,
            notes=tuple(notes),
        )
        self.recs[name] = rec
        return rec

    def from_laws(
        self,
        quantity: str,
        *,
        keys: Sequence[str] | None = None,
        primary: str | None = None,
        transform=None,
        inherit: Sequence[str] = (),
        notes: Sequence[str] = (),
    ) -> Recommendation | None:
        """Evaluate every candidate law for ``quantity``; record the primary and alternatives."""
        cands = self.candidates(quantity, keys)
        if primary and primary in cands:
            cands.remove(primary)
            cands.insert(0, primary)
        if not cands:
            return None
        values: dict[str, float | None] = {}
        factors: dict[str, float] = {}
        reasons: dict[str, list[str]] = {}
        extra_notes: list[str] = list(notes)
        for key in cands:
            raw = self.laws[key].evaluate(quantity, self.vars)
            if transform is not None:
                raw, note = transform(key, raw)
                if note and (key == cands[0] or note.startswith(f"{key} ")):  # an alternative's own caveat
                    extra_notes.append(note)
            values[key] = raw if math.isfinite(raw) else None
            factors[key], reasons[key] = self.factor(key)
            if values[key] is None:
                extra_notes.append(f"{key}: undefined here (outside the law's domain).")
        head = cands[0]
        law = self.laws[head]
        out = law.outputs[quantity]
        note_list = [f"{head}: {r}" for r in reasons[head]] + extra_notes
        return self.add(
            quantity,
            values[head],
            out.unit,
            head,
            description=out.description,
            formula=law.formula,
            source=law.provenance.citation,
            alternatives={k: values[k] for k in cands[1:]},
            alt_factors={k: factors[k] for k in cands[1:]},
            factor=factors[head],
            notes=note_list,
            inherit=inherit,
        )

    # -- the stages, in the order recommend() runs them (each may use the values before it) --------
    def loss(self) -> None:
        loss = self.from_laws("final_loss")
        if loss is not None and loss.value is not None:
            self.vars["final_loss"] = loss.value

    def lr_and_batch(self) -> None:
        """lr and batch at each law's own optimum; the batch in use; every lr at that batch."""
        spec = self.spec
        batch = self.batch = self.from_laws("batch_tokens")
        if batch is not None:
            self.own_batch = {batch.law: batch.value, **{k: v for k, v in batch.alternatives.items() if v}}
        planned = self.planned = spec.batch_tokens
        b_use = planned if planned is not None else (batch.value if batch else None)
        if b_use is None:
            raise InvalidInputError("no batch law applies and no batch is planned: give `batch`.")
        self.b_use = b_use
        self.vars["batch_tokens"] = b_use
        if batch is not None and planned is not None:
            self.recs["batch_tokens"] = _with_note(
                batch, f"planned batch {units.format_si(planned)} tokens is "
                f"{planned / batch.value:.2f}x this; peak_lr is rescaled to it (sqrt-batch)."  # type: ignore[operator]
            )
        lr = self.from_laws("peak_lr", transform=self.at_planned_batch,
                            notes=_planned_note("planned peak lr", spec.optimizer.lr, "peak_lr"))
        if lr is not None and lr.value is not None:
            self.vars["peak_lr"] = lr.value
        # Quantities computed from the batch in use inherit the batch law's extrapolation only when
        # that batch came from the law, not from the user's plan.
        self.from_batch = () if planned is not None else ("batch_tokens",)

    def at_planned_batch(self, key: str, lr: float) -> tuple[float, str | None]:
        """An lr law's value moved to the batch in use by the square-root rule, from the batch the
        lr holds at: the law's own optimum, else the primary batch law's, else (a reference-run
        law) the reference run's."""
        sqrt = self.laws.get("sqrt-batch")
        if not math.isfinite(lr):
            return lr, None
        law = self.laws[key]
        if "reference-run" in law.kinds:
            src = self.spec.optimizer.reference_batch_tokens
            if src is None or sqrt is None or src == self.b_use:
                return lr, None
            return float(sqrt.lr(lr, src, self.b_use)), (  # type: ignore[attr-defined]
                f"{key} lr rescaled from the reference batch {units.format_si(src)} by sqrt-batch."
            )
        planned = self.planned
        if planned is None or sqrt is None:
            return lr, None
        if key not in self.own_batch and "batch_tokens" not in law.outputs:
            # an lr law without a batch of its own (Kaplan's eq. D.1): no batch to rescale from
            return lr, f"{key} gives no batch of its own: its lr is not rescaled to the planned batch."
        ref_b = self.batch.value if self.batch is not None else self.b_use
        base = self.own_batch.get(key, ref_b)
        scaled = float(sqrt.lr(lr, base, planned))  # type: ignore[attr-defined]
        return scaled, (
            f"x{scaled / lr:.3f} for the planned batch {units.format_si(planned)} tokens vs "
            f"{units.format_si(base)} (sqrt-batch, Malladi et al. 2022)."  # type: ignore[arg-type]
        )

    def batch_sequences(self) -> None:
        batch, seq_len = self.batch, self.spec.seq_len
        if batch is None:
            return
        seqs = {k: (max(1, round(v / seq_len)) if v else None) for k, v in batch.alternatives.items()}
        self.add(
            "batch_sequences",
            float(max(1, round(batch.value / seq_len))),  # type: ignore[operator]
            "sequences",
            batch.law,
            description=f"batch_tokens in sequences of {seq_len}, rounded",
            formula="round(batch_tokens / seq_len)",
            source=batch.source,
            alternatives={k: (float(v) if v else None) for k, v in seqs.items()},
            alt_factors=batch.alternatives_extrapolation,
            inherit=("batch_tokens",),
        )

    def critical_batch(self) -> None:
        """The critical batch and the cost of the batch in use."""
        cbs = self.from_laws("critical_batch_tokens")
        if cbs is not None and cbs.value is not None:
            self.vars["critical_batch_tokens"] = cbs.value
            for q in ("batch_data_overhead", "batch_step_overhead"):
                self.from_laws(q, inherit=("critical_batch_tokens", *self.from_batch))

    def schedule(self) -> None:
        """Steps, warmup, the final lr and (WSD) the cooldown fraction."""
        spec = self.spec
        steps = self.steps = math.ceil(spec.tokens / self.b_use)
        self.add(
            "total_steps", float(steps), "steps", "definition",
            description="optimizer steps for the token budget at the batch in use",
            formula="ceil(tokens / batch_tokens)", inherit=self.from_batch,
        )
        self.warmup()
        sch = spec.schedule
        if sch.shape in MIN_LR_RULE and "peak_lr" in self.vars:
            self.min_lr(MIN_LR_RULE[sch.shape])
        if sch.shape == "wsd":
            self.from_laws("decay_fraction")

    def warmup(self) -> None:
        steps = self.steps
        warm_notes = []
        planned_warm = planned_warmup_steps(self.spec, self.b_use, steps)
        if planned_warm is not None and planned_warm > steps:
            shown = f"{planned_warm:.0f}" if planned_warm < 1e15 else f"{planned_warm:.3g}"
            warm_notes.append(f"planned warmup: {shown} steps, longer than the whole run ({steps} "
                              "steps): the lr would never reach its peak.")
        elif planned_warm is not None:
            warm_notes.append(f"planned warmup: {planned_warm:.0f} steps.")
        warm = self.from_laws("warmup_steps", inherit=self.from_batch, notes=warm_notes)
        if warm is not None and warm.value is not None and warm.value > 0.1 * steps:
            self.recs["warmup_steps"] = _with_note(
                warm, f"this is {warm.value / steps:.0%} of the run's {steps} steps: consider a shorter warmup."
            )

    def min_lr(self, primary: str) -> None:
        """The final lr, by the rule that fits the schedule's shape first."""
        spec, sch = self.spec, self.spec.schedule
        keys = [primary] + [k for k in MIN_LR_RULES if k != primary]
        notes = []
        if sch.min_lr is not None:
            notes.append(f"planned min lr: {units.format_sci(sch.min_lr)}.")
        elif sch.min_lr_ratio is not None:
            peak = spec.optimizer.lr if spec.optimizer.lr is not None else self.vars["peak_lr"]
            which = "planned" if spec.optimizer.lr is not None else "recommended"
            notes.append(f"planned min lr: {sch.min_lr_ratio:g} x the {which} peak = "
                         f"{units.format_sci(sch.min_lr_ratio * peak)}.")  # type: ignore[operator]
        self.from_laws("min_lr", keys=keys, primary=primary, inherit=("peak_lr",), notes=notes)

    def optimizer(self) -> None:
        """Weight decay and Adam's beta2 (Adam and AdamW only)."""
        spec = self.spec
        if spec.optimizer.name not in ("adamw", "adam"):
            return
        wd = self.from_laws("weight_decay", inherit=("peak_lr", *self.from_batch),
                            notes=_planned_note("planned weight decay", spec.optimizer.weight_decay, ""))
        lr_used, lr_planned = self.vars.get("peak_lr"), spec.optimizer.lr
        if (wd is not None and wd.value is not None and "timescale" in self.laws[wd.law].kinds
                and lr_used and lr_planned and abs(lr_planned / lr_used - 1) > 0.01):
            # the timescale rules hold eta x lambda fixed: lambda scales as 1 / eta
            self.recs["weight_decay"] = _with_note(
                wd, f"computed with the advised peak lr {units.format_sci(lr_used)}; with the planned "
                f"lr {units.format_sci(lr_planned)} the same timescale needs "
                f"{wd.value * lr_used / lr_planned:.3g} (lambda = B / (eta tau D)).")
        self.from_laws("adam_beta2", inherit=self.from_batch,
                       notes=_planned_note("planned beta2", spec.optimizer.beta2, "adam_beta2"))

    def compute(self) -> None:
        """Compute, tokens per parameter, the compute-optimal split and its loss gap, time."""
        spec = self.spec
        comp = self.from_laws("compute_flops")
        self.add(
            "tokens_per_param", spec.tokens / spec.model.params, "tokens/param", "definition",
            description="training tokens per total parameter", formula="tokens / params",
        )
        opt_n = self.from_laws("compute_optimal_params")
        self.from_laws("compute_optimal_tokens")
        if opt_n is not None and opt_n.value is not None:
            _loss_gap(self, opt_n)
        if comp is not None and comp.value is not None:
            self.vars["compute_flops"] = comp.value
            self.from_laws("accelerator_hours")
            self.from_laws("wall_clock_hours")

    def sorted_recommendations(self) -> tuple[Recommendation, ...]:
        order = [name for names in GROUPS.values() for name in names]
        return tuple(sorted(self.recs.values(), key=lambda r: order.index(r.name)))


def recommend(
    spec: RunSpec,
    *,
    laws: Mapping[str, Law] | None = None,
    lr_law: str | None = None,
    batch_law: str | None = None,
    loss_law: str | None = None,
    preferred: Sequence[str] = (),
) -> Advice:
    """The full recommendation for a planned run.

    ``laws`` replaces the registry (pass ``{**REGISTRY, **fitted}`` to add fitted laws);
    ``preferred`` names laws that lead the table where they apply (fitted laws);
    ``lr_law``, ``batch_law``, ``loss_law`` choose the primary law of those quantities.
    """
    laws = dict(REGISTRY if laws is None else laws)
    choices = {
        k: v
        for k, v in {
            "peak_lr": lr_law,
            "batch_tokens": batch_law,
            "final_loss": loss_law,
        }.items()
        if v
    }
    for key in choices.values():
        resolve_law(key, laws)
    b = _Builder(spec, laws, choices, preferred)
    if loss_law and "compute_optimal_params" in laws[loss_law].outputs:
        b.choices = {**choices, "compute_optimal_params": loss_law, "compute_optimal_tokens": loss_law}
    b.loss()
    b.lr_and_batch()
    b.batch_sequences()
    b.critical_batch()
    b.schedule()
    b.optimizer()
    b.compute()
    recs = b.sorted_recommendations()
    transfer = None
    if spec.proxy:
        from hpadvisor.transfer.plan import plan_from_spec

        transfer = plan_from_spec(spec)
    return Advice(spec=spec, recommendations=recs, laws=laws, transfer=transfer,
                  unused=_unused_laws(preferred, recs, laws))


def _unused_laws(preferred: Sequence[str], recs: Sequence[Recommendation],
                 laws: Mapping[str, Law]) -> tuple[tuple[str, str], ...]:
    """(key, note) for each law the user gave (a law file) that no row of the table used, primary or other."""
    used = {r.law for r in recs} | {k for r in recs for k in r.alternatives}
    notes = []
    for key in preferred:
        if key in used:
            continue
        law = laws[key]
        hint = ""
        if "curve" in law.kinds:
            hint = (" It predicts loss curves under a schedule: use `hpadvisor predict` or `hpadvisor "
                    "compare-schedules` with its file.")
        elif "sensitivity" in law.kinds:
            hint = " It prices lr and batch deviations: `hpadvisor check` uses it."
        notes.append((key, f"{key}: a {type(law).key} law, which gives none of the advised quantities for this run; "
                           f"it was not used.{hint}"))
    return tuple(notes)


def _planned_note(what: str, planned: float | None, name: str) -> list[str]:
    if planned is None:
        return []
    shown = units.format_sci(planned) if name == "peak_lr" else f"{planned:g}"
    return [f"{what}: {shown}."]


def _with_note(rec: Recommendation, note: str) -> Recommendation:
    from dataclasses import replace

    return replace(rec, notes=rec.notes + (note,))


def planned_warmup_steps(spec: RunSpec, b_use: float, steps: int) -> float | None:
    """The run file's own warmup in optimizer steps (given in steps, tokens at ``b_use`` tokens a
    step, or a fraction of ``steps``); None if it gives none."""
    s = spec.schedule
    if s.warmup_steps is not None:
        return s.warmup_steps
    if s.warmup_tokens is not None:
        return s.warmup_tokens / b_use
    if s.warmup_fraction is not None:
        return s.warmup_fraction * steps
    return None


def _loss_gap(b: _Builder, opt_n: Recommendation) -> None:
    """How much loss the planned (N, D) gives up against the compute-optimal split (same law)."""
    law = b.laws[opt_n.law]
    if "final_loss" not in law.outputs:
        return
    spec = b.spec
    n_opt = cast(float, opt_n.value)  # recommend() calls this only with a value
    c = cast(float, b.vars["chinchilla_compute"])  # every spec gives it
    d_opt = c / (6.0 * n_opt)
    here = law.evaluate("final_loss", b.vars)
    best = law.evaluate("final_loss", {**b.vars, "params": n_opt, "tokens": d_opt})
    b.add(
        "compute_optimal_loss_gap", here - best, "nats/token", opt_n.law,
        description="predicted loss above the compute-optimal split at the same compute",
        formula="L(N, D) - L(N_opt, D_opt) at 6 N D = const",
        source=law.provenance.citation, factor=opt_n.extrapolation_factor,
        notes=(f"planned N is {spec.model.params / n_opt:.2f}x the compute-optimal N "
               f"({units.format_si(n_opt)}); D/N = {spec.tokens / spec.model.params:.1f} vs "
               f"{d_opt / n_opt:.1f} at the optimum.",),
    )


def _advised(spec: RunSpec | None, advice: Advice | None, name: str) -> float:
    """The advice's value of ``name`` for a schedule value neither given nor planned."""
    v = advice.value(name) if advice is not None else None
    if v is None:
        param = {"peak_lr": "peak"}.get(name, name)  # planned_schedule's own parameter
        where = "plan it in the run file or give " if spec is not None else "give "
        raise InvalidInputError(f"no {name} for this schedule: {where}`{param}`.")
    return v


def _schedule_peak(spec: RunSpec | None, advice: Advice | None, notes: list[str]) -> float:
    """The peak lr when none is given: the run file's, else the advice's."""
    if spec is not None and spec.optimizer.lr is not None:
        notes.append(f"peak lr {spec.optimizer.lr:g} (run file).")
        return spec.optimizer.lr
    peak = _advised(spec, advice, "peak_lr")
    notes.append(f"peak lr {peak:.3g} (advice: {advice['peak_lr'].law}).")  # type: ignore[index]
    return peak


def _schedule_warmup(spec: RunSpec | None, advice: Advice | None, total: int, notes: list[str]) -> int:
    """Warmup steps when none are given: the run file's (steps, a fraction of the run or tokens),
    else none without a run file, else the advice's; at most the whole run."""
    sch = spec.schedule if spec is not None else None
    if sch is not None and sch.warmup_steps is not None:
        warm: float = sch.warmup_steps
        notes.append(f"warmup {round(warm)} steps (run file).")
    elif sch is not None and sch.warmup_fraction is not None:
        warm = sch.warmup_fraction * total
        notes.append(f"warmup {round(warm)} steps = {sch.warmup_fraction:g} x the run (run file).")
    elif sch is not None and sch.warmup_tokens is not None and spec is not None and spec.batch_tokens:
        warm = sch.warmup_tokens / spec.batch_tokens
        notes.append(f"warmup {round(warm)} steps = {units.format_si(sch.warmup_tokens)} tokens / batch (run file).")
    elif spec is None:
        warm = 0
    else:
        warm = _advised(spec, advice, "warmup_steps")
        notes.append(f"warmup from the advice ({advice['warmup_steps'].law}).")  # type: ignore[index]
    if round(warm) > total:
        notes.append(f"warmup cut to the run's {total} steps (planned: {round(warm)}).")
    return int(min(round(warm), total))


def _schedule_floor(sch, advice: Advice | None, shape: str, peak: float,
                    notes: list[str]) -> tuple[float | None, float | None]:
    """(min_lr, min_lr_ratio) when neither is given: the run file's, else for a cosine or WSD
    schedule the advice's floor as a fraction of its own peak."""
    min_lr, min_lr_ratio = sch.min_lr, sch.min_lr_ratio
    floored = shape not in ("constant", "d2z")  # build() sets these floors itself
    if min_lr is not None and floored:
        notes.append(f"min lr {min_lr:.3g} (run file).")
    elif min_lr_ratio is not None and floored:
        notes.append(f"min lr {min_lr_ratio * peak:.3g} = {min_lr_ratio:g} x the peak (run file).")
    elif min_lr is not None or min_lr_ratio is not None:
        notes.append(f"the run file's min lr is not used: a {shape} schedule sets its own floor.")
    if min_lr is None and min_lr_ratio is None and shape in ("cosine", "wsd", "wsd_restarts") and advice is not None:
        rec, advised_peak = advice.get("min_lr"), advice.value("peak_lr")
        if rec is not None and rec.value is not None and advised_peak:
            # the advice's floor is a fraction of its own peak: keep the fraction for the peak in use
            min_lr_ratio = min(rec.value / advised_peak, 1.0)
            notes.append(f"min lr {min_lr_ratio * peak:.3g} = {min_lr_ratio:.3g} x the peak (advice: {rec.law}).")
    return min_lr, min_lr_ratio


def _schedule_convention(sch, shape: str, peak: float, min_lr: float | None, min_lr_ratio: float | None,
                         warmup_init: float, notes: list[str]) -> tuple[str, float]:
    """(convention, warmup_init) when no convention is given: the run file's trainer's, else
    Megatron's formulas; HF's WSD warms up from its floor."""
    from hpadvisor import schedules

    trainer = sch.trainer if sch is not None else None
    convention = (schedules.trainer_convention(trainer) or "megatron") if trainer else "megatron"
    if not warmup_init:  # HF's WSD warms up from its floor
        # a peak of 0 is refused by build() afterwards, in its words
        floor = min_lr_ratio if min_lr_ratio is not None else (min_lr or 0.0) / peak if peak else 0.0
        warmup_init = schedules.warmup_start(trainer, shape, floor)
        if warmup_init:
            notes.append(f"warmup from {warmup_init:g} x the peak (HF's warmup_stable_decay starts at min_lr_ratio).")
    return convention, warmup_init


def planned_schedule(
    spec: RunSpec | None,
    advice: Advice | None,
    *,
    shape: str | None = None,
    peak: float | None = None,
    total_steps: int | None = None,
    warmup_steps: int | None = None,
    min_lr: float | None = None,
    min_lr_ratio: float | None = None,
    decay_fraction: float | None = None,
    decay_shape: str | None = None,
    convention: str | None = None,
    warmup_init: float = 0.0,
    cooldowns: int | None = None,
    set_by: Mapping[str, str] | None = None,
):
    """The run's per-step lr schedule and a note on where each of its values came from.

    Precedence: an explicit argument (a command-line flag), then the run file's plan, then the
    advice for the run (``spec`` and ``advice`` may be None when every value is given).
    Returns ``(Schedule, notes)``.
    """
    from hpadvisor import schedules

    sch = spec.schedule if spec is not None else None
    notes: list[str] = []
    shape = shape or (sch.shape if sch is not None else None)
    if shape is None:
        raise InvalidInputError("no schedule shape: give `shape` (cosine, wsd, linear, d2z, constant, ...).")
    if total_steps is None:
        total_steps = int(_advised(spec, advice, "total_steps"))
        notes.append(f"total steps {total_steps} (advice: tokens / batch).")
    total = schedules.check_length(total_steps, "`total_steps`")
    if peak is None:
        peak = _schedule_peak(spec, advice, notes)
    if warmup_steps is None:
        warmup_steps = _schedule_warmup(spec, advice, total, notes)
    if min_lr is None and min_lr_ratio is None and sch is not None:
        min_lr, min_lr_ratio = _schedule_floor(sch, advice, shape, peak, notes)
    if decay_fraction is None and sch is not None:
        decay_fraction = sch.decay_fraction
    if shape in ("wsd", "wsd_restarts") and decay_fraction is None and advice is not None:
        decay_fraction = advice.value("decay_fraction")
    if decay_shape is None:
        decay_shape = (sch.decay_shape if sch is not None else None) or "linear"
    if cooldowns is None and sch is not None:
        cooldowns = sch.cooldowns
    if convention is None:  # the run file's trainer, else Megatron's formulas
        convention, warmup_init = _schedule_convention(sch, shape, peak, min_lr, min_lr_ratio, warmup_init, notes)
    sched = schedules.build(shape, peak=peak, total_steps=total, warmup_steps=warmup_steps, min_lr=min_lr,
                            min_lr_ratio=min_lr_ratio, decay_fraction=decay_fraction, decay_shape=decay_shape,
                            convention=convention, warmup_init=warmup_init, cooldowns=cooldowns, set_by=set_by)
    return sched, notes
