"""A trainer config against the advice: graded findings, each pointing at the field and line.

Flow: a :class:`~hpadvisor.formats.base.TrainerConfig` (what the team will launch, read by
``hpadvisor.formats``) -> run values -> :class:`~hpadvisor.spec.RunSpec` -> ``advisor.recommend``
-> :class:`Context` -> every rule in ``RULES`` -> :class:`Report`.

A rule is a pure function ``Context -> list[Finding]``.  Rules never read files; the numbers they
quote come from the Advice (a law with its source) or from a named definition (McCandlish's
trade-off, the schedule's formula).  Every threshold below is documented with its reason in
docs/check.md; change one there and here together.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from hpadvisor.formats.base import ARCH_KEYS, Setting, TrainerConfig
from hpadvisor.formats.registry import TRAINERS
from hpadvisor.spec import units

SEVERITIES = ("info", "warning", "error")  # ascending

# -- thresholds (reasons in docs/check.md) -------------------------------------------------------
#: Step Law's "near-optimal": final loss within 0.25% of the best run at that (N, D).
PLATEAU_COST = 0.0025
#: predicted loss cost that blocks a launch (D2Z vs cosine-to-10% is ~0.77%, Bergsma et al. 2025).
ERROR_COST = 0.01
#: without a sensitivity law: the plateau is taken as lr within 2x of the optimum (Step Law finds
#: 4-13 points of a 2^(1/2) grid within 0.25%: about two grid steps, i.e. 2x, either side).
PLATEAU_RATIO = 2.0
#: ... and more than 4x away from every law is an error.
ERROR_RATIO = 4.0
#: batch / critical batch: 2x wastes a third of the tokens vs B_crit (McCandlish), 4x 60%.
BATCH_WARN, BATCH_ERROR = 2.0, 4.0
#: warmup shorter than this fraction of the shortest law's warmup ...
WARMUP_SHORT = 0.25
#: ... and shorter than GPT-3's warmup, 375M tokens at every model size (Brown et al. 2020, appendix B).
WARMUP_FLOOR_TOKENS = 375e6
#: warmup longer than this fraction of the run (and longer than every law's) -- the advisor's own note.
WARMUP_LONG = 0.10
#: decay horizon vs run length: tolerance, and the ratio at which the run never anneals.
HORIZON_TOL, HORIZON_ERROR = 0.05, 2.0
#: min lr / peak lr: at or above NO_DECAY the schedule does not decay; published finals are <= 10%.
NO_DECAY, HIGH_FINAL = 0.9, 0.1
#: beta2: warn when its half-life (in steps) is below this fraction of the recommended one's.
BETA2_HALF_LIFE = 0.5
#: compute-optimal: N outside [1/x, x] times N_opt is reported (info).
OPTIMAL_RATIO = 2.0
#: a law used more than this factor outside its fitted range cannot block a launch on its own.
EXTRAPOLATION_DOWNGRADE = 10.0
#: ... nor can one used more than this factor outside it when the other laws span the planned value
#: (Step Law at 7B, 6x outside, against GPT-3's and Pythia's 1.2e-4 at 6.7-6.9B).
EXTRAPOLATION_DISAGREE = 2.0
#: weight decay vs the lead law's at the planned lr, batch and tokens: more than WD_INFO x away is
#: reported (info), more than WD_WARN x a warning; never an error (the published rules differ 3-4x
#: at common settings, and no law prices a weight decay off its optimum).
WD_INFO, WD_WARN = 2.0, 4.0
#: run file vs trainer config: relative tolerance for numbers.
CONTRADICTION_TOL = 0.01

#: schedule vs a fitted curve law (``--laws``): a predicted final-loss gap to the best candidate
#: schedule above SCHEDULE_INFO is reported; above SCHEDULE_WARN (1%: beyond the largest held-out
#: final-loss error measured on the Multi-Power-Law authors' split, 0.97%) it is a warning, when
#: the run is at most SCHEDULE_MAX_EXTRAPOLATION times the longest fitted run (the 3x that split
#: tests) and its peak lr is inside the fitted range; otherwise it stays info.
SCHEDULE_INFO, SCHEDULE_WARN, SCHEDULE_MAX_EXTRAPOLATION = 0.0025, 0.01, 3.0

SENSITIVITY_KEY = "steplaw-sensitivity"
DECAYING = ("cosine", "linear", "wsd", "exponential")


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str  # default grade; findings may be graded by magnitude (see each rule)
    title: str


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str
    field: str | None
    line: int | None
    message: str
    suggestion: str

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "severity": self.severity, "field": self.field,
                "line": self.line, "message": self.message, "suggestion": self.suggestion}


@dataclass(frozen=True)
class Report:
    file: str
    format: str
    findings: tuple[Finding, ...]
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON shape (CI scripts depend on it: change docs/check.md with it)."""
        return {"file": self.file, "format": self.format,
                "findings": [f.to_dict() for f in self.findings]}

    def fails(self, level: str) -> bool:
        """True if a finding is graded ``level`` or worse."""
        at = SEVERITIES.index(level)
        return any(SEVERITIES.index(f.severity) >= at for f in self.findings)


@dataclass(frozen=True)
class Missing:
    """An input a law-based rule needs and the config does not give, and what would give it."""

    what: str  # "the global batch"
    give: str  # the flag or field that supplies it: "--data-parallel 64", "--params", "train_iters"
    why: str  # how the config leaves it unknown


@dataclass(frozen=True)
class Context:
    config: TrainerConfig
    advice: Any = None  # hpadvisor.recommend.advisor.Advice, or None when the run size is unknown
    reference: TrainerConfig | None = None  # the hpadvisor run file, for contradictions
    sensitivity: Any = None  # a law with relative_loss_cost(lr_ratio, batch_ratio), or None
    skipped: str = ""  # why there is no advice
    laws: Mapping[str, Any] = field(default_factory=dict)
    curve_law: Any = None  # a fitted loss-curve law from --laws (noise-convolution, multi-power or LR-annealing), or None
    missing: tuple[Missing, ...] = ()  # inputs the law-based rules lack, each with what would supply it
    allow_incomplete: bool = False  # a partial check is accepted (--allow-incomplete): missing inputs are info
    tokens_given: float | None = None  # --tokens, when given (checked against the config's own run length)

    def rec(self, name: str) -> Any:
        if self.advice is None:
            return None
        rec = next((r for r in self.advice.recommendations if r.name == name), None)
        return rec if rec is not None and rec.value is not None else None

    @cached_property
    def lr_schedule(self) -> tuple[Any, str]:
        """(the config's per-step lr as its trainer computes it, "") or (None, why it cannot be
        built); computed once for every rule that needs it (``schedules.from_trainer``)."""
        from hpadvisor import schedules
        from hpadvisor.errors import HpAdvisorError

        try:
            return schedules.from_trainer(self.config)[0], ""
        except HpAdvisorError as exc:
            return None, str(exc)


# -- helpers ---------------------------------------------------------------------------------------


def _line(cfg: TrainerConfig, s: Setting | None) -> int | None:
    """The setting's line, or for a derived value the first line of a field it came from."""
    if s is None:
        return None
    if s.line is not None:
        return s.line
    for name in s.derived_from:
        for other in cfg.settings.values():
            if other.field == name and other.line is not None:
                return other.line
    return None


def _num(x: float) -> str:
    if x == 0:
        return "0"
    if float(x).is_integer() and abs(x) < 1e15:
        return f"{int(x)}"
    if 1e-3 <= abs(x) < 1e4:
        return f"{x:.4g}"
    return units.format_sci(x)


def _shown(x: Any) -> str:
    return _num(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else str(x)


def _in_field_units(s: Setting, value: float) -> str:
    """``value`` (canonical units) written in the unit of the field as the trainer stated it.

    Readers convert linearly (fractions x steps, samples / batch, ratio x lr, tokens / seq_len),
    so raw/value is the conversion factor.
    """
    if s.offset:  # the field counts from a later start: value = offset + raw (no scaling)
        return _num(round(value - s.offset))
    raw = s.raw
    if isinstance(raw, str):
        try:
            raw = float(raw)
        except ValueError:
            raw = None
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not isinstance(s.value, (int, float)):
        return _num(value)
    if s.value == 0 or raw == s.value:
        out = value
        if isinstance(s.value, int) and not isinstance(s.value, bool):
            out = round(value)
        return _num(out)
    out = value * raw / s.value
    if float(raw).is_integer() and abs(out) >= 1:
        out = round(out)
    return _num(out)


def suggest(ctx: Context, key: str, value: Any, detail: str = "") -> tuple[str | None, str]:
    """(field, suggestion) for setting canonical ``key`` to ``value``, in the trainer's own words."""
    s = ctx.config.get(key)
    tail = f" ({detail})" if detail else ""
    if s is not None and s.line is not None:
        shown = _in_field_units(s, value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value
        return s.field, f"set {s.field} to {shown}{tail}"
    text = _snippet_line(ctx.config.format, key, value)
    name = text.split()[0].strip('"').rstrip(":=").strip('"') if text else ""
    if text and (s is None or name == s.field):
        return name, f"add {text}{tail}"
    name = s.field if s is not None else key
    shown = _num(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value
    return name, f"set {name} to {shown}{tail}"


def _snippet_line(fmt: str, key: str, value: Any) -> str:
    """The trainer's own line for one setting, from the snippet writer (first non-comment line)."""
    try:
        from hpadvisor.formats.registry import dump_snippet

        text = dump_snippet(fmt, {key: value})
    except Exception:  # a format that cannot express it: fall back to the canonical name
        return ""
    for raw in text.splitlines():
        line = raw.strip().rstrip("\\,").strip()
        if (not any(c.isalnum() for c in line) or line.startswith(("#", "[", "HPADVISOR_ARGS"))
                or line.endswith((":", "{", "["))):
            continue
        return line
    return ""


def _finding(ctx: Context, rule: str, severity: str, key: str | None, message: str,
             suggestion: tuple[str | None, str] | str) -> Finding:
    s = ctx.config.get(key) if key else None
    if isinstance(suggestion, tuple):
        fld, text = suggestion
    else:
        fld, text = (s.field if s is not None else key), suggestion
    return Finding(rule, severity, fld if fld is not None else (s.field if s else None),
                   _line(ctx.config, s), message, text)


def _graded(severity: str, recs: Sequence[Any], message: str) -> tuple[str, str]:
    """Downgrade an error to a warning when its law is far outside its fitted range."""
    worst = max((r.extrapolation_factor for r in recs if r is not None), default=1.0)
    if severity == "error" and worst > EXTRAPOLATION_DOWNGRADE:
        law = max((r for r in recs if r is not None), key=lambda r: r.extrapolation_factor).law
        return "warning", (f"{message} Graded warning, not error: {law} is used {worst:.3g}x "
                           "outside its fitted range.")
    if worst > 1.0 + 1e-9:
        law = max((r for r in recs if r is not None), key=lambda r: r.extrapolation_factor).law
        return severity, f"{message} ({law} is used {worst:.3g}x outside its fitted range.)"
    return severity, message


def _batch_tokens(cfg: TrainerConfig) -> float | None:
    g, seq = cfg.value("global_batch_seqs"), cfg.value("seq_len")
    if g is None or seq is None:
        return None
    return float(g) * float(seq)


_PROBE = 987654321  # a value no snippet writes otherwise: finds the line that states a setting


def field_name(cfg: TrainerConfig, key: str) -> str:
    """The trainer's own name for canonical ``key``, as this config writes its fields: the field of
    the line that sets it, else the snippet writer's (a Megatron YAML writes ``train_iters`` where a
    launch script writes ``--train-iters``); the canonical name when the trainer has no field."""
    s = cfg.get(key)
    if s is not None and s.line is not None:
        return s.field
    try:
        from hpadvisor.formats.registry import dump_snippet

        text = dump_snippet(cfg.format, {key: _PROBE})
    except Exception:  # a format that cannot express it
        text = ""
    line = next((x for x in text.splitlines() if str(_PROBE) in x and not x.lstrip().startswith("#")), "")
    name = line.strip().rstrip("\\,").split(str(_PROBE))[0].strip().rstrip(":=").strip().strip('"')
    if not name or " " in name:
        return key
    flags = [x.field for x in cfg.settings.values() if x.line is not None]
    if name.startswith("--") and flags and not any(f.startswith("--") for f in flags):
        name = name[2:].replace("-", "_")  # Megatron's YAML names its arguments with underscores
    return name


def _batch_gap(cfg: TrainerConfig, tokens: float | None) -> tuple[str, str]:
    """(what gives the global batch, why it is unknown) for a config that does not fix it."""
    micro, accum, dp = cfg.get("micro_batch_seqs"), cfg.get("grad_accum"), cfg.get("data_parallel")
    if micro is not None and dp is None:
        parts = [f"{x.field} {_num(x.value)}" + ("" if x.line is not None else " (default)")
                 for x in (micro, accum) if x is not None and (x is micro or x.line is not None)]
        steps, seq = cfg.value("train_steps"), cfg.value("seq_len")
        give = "--data-parallel N"
        if tokens and steps and seq:  # the data-parallel size that makes the run --tokens long
            q = tokens / (float(steps) * float(seq) * float(micro.value) * float(accum.value if accum else 1))
            if q >= 0.999 and abs(q - round(q)) <= 1e-3 * q:
                give = f"--data-parallel {round(q)}"
        return give, (f"the global batch is {' x '.join(parts)} x the data-parallel size, which the launcher "
                      "sets (GPUs / (tensor x pipeline parallel)), not the file")
    return field_name(cfg, "global_batch_seqs"), "the config states no global batch"


def _seq_gap(cfg: TrainerConfig) -> str:
    name = field_name(cfg, "seq_len")
    return "--seq-len N" if name == "seq_len" and cfg.format != "hpadvisor" else f"{name} (or --seq-len)"


def diagnose(cfg: TrainerConfig, values: Mapping[str, Any]) -> list[Missing]:
    """What the law-based rules lack: the model size, the token count, the global batch, the peak lr;
    each with the flag or field that would give it.  ``values``: the run values (``run_values``,
    merged with a run file's)."""
    out: list[Missing] = []
    if not any(k.startswith("model.") for k in values) and "data.compute" not in values:
        shape = ("d_model", "n_layers", "n_heads")
        lack = [k for k in shape if cfg.value(k) is None]
        if len(lack) < len(shape):  # part of an architecture: name what would complete it
            give = " and ".join(field_name(cfg, k) for k in lack) + " (or --params)"
            why = "the architecture lacks " + ", ".join(field_name(cfg, k) for k in lack)
        else:
            give = "--params" + (" (or --model config.json)" if cfg.format == "hf" else "")
            why = "the config states no architecture"
        out.append(Missing("the model size", give, why))
    tokens = values.get("data.tokens")
    timed = any(k in values for k in ("data.tokens", "data.tokens_per_param", "data.compute"))
    steps, g, seq = cfg.value("train_steps"), cfg.value("global_batch_seqs"), cfg.value("seq_len")
    if not timed:
        if steps is None:
            out.append(Missing("the token count", "--tokens",
                               f"the config states no run length ({field_name(cfg, 'train_steps')})"))
        elif g is None:
            give, why = _batch_gap(cfg, None)
            out.append(Missing("the token count", give, f"it is {field_name(cfg, 'train_steps')} x the global "
                               f"batch x the sequence length, and {why}"))
        else:
            out.append(Missing("the token count", f"{_seq_gap(cfg)} (or --tokens)",
                               "the config states no sequence length"))
    elif g is None or seq is None:
        give, why = _batch_gap(cfg, tokens) if g is None else (_seq_gap(cfg), "the config states no sequence length")
        out.append(Missing("the global batch in tokens", give, why + ": batch-above-critical, beta2-too-low and "
                           "weight-decay-timescale cannot run, and the lr is compared at the laws' own batches"))
    if cfg.value("lr") is None:
        out.append(Missing("the peak lr", field_name(cfg, "lr"), "the config states none and the trainer has no "
                           "default: lr-outside-plateau and weight-decay-timescale cannot run"))
    return out


# -- rules -----------------------------------------------------------------------------------------


def lr_plateau(ctx: Context) -> list[Finding]:
    s, rec = ctx.config.get("lr"), ctx.rec("peak_lr")
    if s is None or rec is None or not rec.value > 0:
        return []
    lr = float(s.value)
    ratio = lr / rec.value
    others = {k: v for k, v in rec.alternatives.items() if v}
    values = [rec.value, *others.values()]
    lo, hi = min(values), max(values)
    alts = ", ".join(f"{k} {units.format_sci(v)}" for k, v in others.items())
    at = ("at this batch" if _batch_tokens(ctx.config) is not None
          else "at the laws' own batches (the config's global batch is unknown)")
    head = (f"peak lr {units.format_sci(lr)} is {ratio:.3g}x the {rec.law} optimum "
            f"{units.format_sci(rec.value)} {at}" + (f" (other laws: {alts})." if alts else "."))
    if ctx.sensitivity is not None:
        cost = float(ctx.sensitivity.relative_loss_cost(ratio, 1.0))
        if cost < PLATEAU_COST:
            return []
        sev = "error" if cost >= ERROR_COST else "warning"
        key = ctx.sensitivity.registry_key if hasattr(ctx.sensitivity, "registry_key") else SENSITIVITY_KEY
        msg = f"{head} Predicted loss cost {cost:.2%} ({key}); the plateau is within {PLATEAU_COST:.2%}."
        rng = {sym: (lo, hi) for sym, lo, hi in getattr(ctx.sensitivity.provenance, "fitted_range", ())}
        if "lr_ratio" in rng and not rng["lr_ratio"][0] <= ratio <= rng["lr_ratio"][1]:
            lo_r, hi_r = rng["lr_ratio"]
            msg += f" (The cost is extrapolated: {key} was calibrated on lr ratios {lo_r:g}-{hi_r:g}.)"
    else:
        if 1 / PLATEAU_RATIO <= ratio <= PLATEAU_RATIO:
            return []
        nearest = min(abs(math.log(lr / v)) for v in values)
        if lo <= lr <= hi:
            sev = "info"
        elif nearest > math.log(ERROR_RATIO):
            sev = "error"
        else:
            sev = "warning"
        where = "inside" if sev == "info" else "outside"
        msg = (f"{head} It is {where} the laws' range {units.format_sci(lo)}-{units.format_sci(hi)}. "
               f"Predicted loss cost unknown: no sensitivity law ({SENSITIVITY_KEY}) is available.")
    spanned = others and min(others.values()) <= lr <= max(others.values())
    if sev == "error" and rec.extrapolation_factor > EXTRAPOLATION_DISAGREE and spanned:
        # an extrapolated law alone, contradicted by the others, does not block a launch
        o_lo, o_hi = min(others.values()), max(others.values())
        sev = "warning"
        msg += (f" Graded warning, not error: {rec.law} is used {rec.extrapolation_factor:.3g}x outside its "
                f"fitted range, and the other laws span {units.format_sci(o_lo)}-{units.format_sci(o_hi)}, "
                "which holds this lr.")
    else:
        sev, msg = _graded(sev, [rec], msg)
    return [_finding(ctx, "lr-outside-plateau", sev, "lr", msg,
                     suggest(ctx, "lr", float(f"{rec.value:.3g}"), rec.law))]


def batch_critical(ctx: Context) -> list[Finding]:
    b, crit = _batch_tokens(ctx.config), ctx.rec("critical_batch_tokens")
    if b is None or crit is None:
        return []
    ratio = b / crit.value
    if ratio < BATCH_WARN:
        return []
    mc: Any = ctx.laws.get("mccandlish")  # the McCandlish law (its data_overhead), typed as any Law
    if mc is None:
        from hpadvisor.laws import REGISTRY

        mc = REGISTRY["mccandlish"]
    over = float(mc.data_overhead(b, crit.value))  # E/E_min - 1 = B / B_crit
    wasted = 1.0 - 2.0 / (1.0 + over)  # share of tokens not needed at B = B_crit (E = 2 E_min there)
    tokens = ctx.advice.spec.tokens
    sev = "error" if ratio >= BATCH_ERROR else "warning"
    msg = (f"global batch {units.format_si(b)} tokens is {ratio:.3g}x the critical batch "
           f"{units.format_si(crit.value)} ({crit.law}). McCandlish: E/E_min = 1 + B/B_crit = "
           f"{1 + over:.3g}, so about {wasted:.0%} of the {units.format_si(tokens)} tokens "
           f"({units.format_si(wasted * tokens)}) buy no loss a batch of B_crit would not reach.")
    sev, msg = _graded(sev, [crit], msg)
    seq = float(ctx.config.value("seq_len"))
    target = ctx.rec("batch_sequences")
    seqs = target.value if target is not None and target.value * seq <= crit.value else math.floor(crit.value / seq)
    dp = ctx.config.value("data_parallel")
    seqs = int(max(seqs, 1))
    if dp and seqs < dp:  # at least one sequence per data-parallel rank, or the trainer cannot run it
        said = ctx.config.get("global_batch_seqs")
        return [_finding(ctx, "batch-above-critical", sev, "global_batch_seqs", msg,
                         (said.field if said else None,
                          f"the critical batch is {seqs} sequences, below one per data-parallel rank ({_num(dp)}): "
                          "use fewer data-parallel ranks (more tensor or pipeline parallelism), or accept the "
                          "larger batch's token cost"))]
    g = ctx.config.get("global_batch_seqs")
    if g is not None and " x " in g.field and dp:  # a product of fields: say the per-rank split
        per_rank = max(1, seqs // int(dp))
        return [_finding(ctx, "batch-above-critical", sev, "global_batch_seqs", msg,
                         (g.field, f"a global batch of about {per_rank * int(dp)} sequences: {per_rank} per "
                          f"data-parallel rank ({_num(dp)} ranks; micro batch x accumulation); rescale lr by sqrt "
                          "of the batch ratio"))]
    return [_finding(ctx, "batch-above-critical", sev, "global_batch_seqs", msg,
                     suggest(ctx, "global_batch_seqs", seqs, "sequences; rescale lr by sqrt of the batch ratio"))]


def warmup(ctx: Context) -> list[Finding]:
    cfg, s = ctx.config, ctx.config.get("warmup_steps")
    if s is None:
        return []
    w = float(s.value)
    steps = cfg.value("train_steps")
    horizon = cfg.value("decay_steps") or steps
    rec = ctx.rec("warmup_steps")
    laws = {} if rec is None else {rec.law: rec.value, **{k: v for k, v in rec.alternatives.items() if v}}
    # a suggested warmup stays within WARMUP_LONG of the horizon (the too-long rule's bound), or
    # applying one fix would draw the other finding
    cap = max(1, math.floor(WARMUP_LONG * horizon)) if horizon else None

    def fix(target: float, law: str) -> tuple[str | None, str]:
        n = int(min(round(target), cap) if cap else round(target))
        detail = f"{_num(n)} steps, {law}" + (f"; capped at {WARMUP_LONG:.0%} of the decay horizon"
                                              if cap is not None and round(target) > cap else "")
        if s.field == "decay_lr":  # nanoGPT: decay_lr = False skips the warmup with get_lr
            return "decay_lr", (f"set decay_lr = True and warmup_iters = {n} ({detail}), with min_lr = "
                                "learning_rate to keep the lr constant after it")
        return suggest(ctx, "warmup_steps", n, detail)

    if horizon and w >= horizon:
        return [_finding(ctx, "warmup-too-long", "error", "warmup_steps",
                         f"warmup of {_num(w)} steps is not shorter than the decay horizon of "
                         f"{_num(horizon)} steps: the lr never follows the schedule.",
                         fix(rec.value if rec else WARMUP_LONG * horizon, rec.law if rec else "10% of the horizon"))]
    if not laws:
        return []
    shortest, longest = min(laws.values()), max(laws.values())
    said = ", ".join(f"{k} {_num(round(v))}" for k, v in laws.items())
    need = min(shortest, cap) if cap else shortest
    b = _batch_tokens(cfg)
    if w < WARMUP_SHORT * need and not (b and w * b >= WARMUP_FLOOR_TOKENS):
        what = "no warmup" if w == 0 else f"warmup of {_num(w)} steps"
        return [_finding(ctx, "warmup-too-short", "warning", "warmup_steps",
                         f"{what}: below {WARMUP_SHORT:g}x the shortest published rule (steps: {said})"
                         + (f", capped at {WARMUP_LONG:.0%} of the decay horizon" if need < shortest else "") + ".",
                         fix(rec.value, rec.law))]
    # a tie counts: a fixed 2000-step rule (DeepSeek, Step Law) meant for long runs does not make a
    # 2000-step warmup right for a 5000-step run (nanoGPT's shakespeare-style configs)
    if steps and w > WARMUP_LONG * steps and w >= longest:
        than = "longer than every rule" if w > longest else "no shorter than the longest rule"
        return [_finding(ctx, "warmup-too-long", "warning", "warmup_steps",
                         f"warmup of {_num(w)} steps is {w / steps:.0%} of the run's {_num(steps)} steps "
                         f"and {than} (steps: {said}).",
                         fix(rec.value, rec.law))]
    return []


def _end_of_run_lr(shape: str, frac: float) -> float | None:
    """Where the lr stands (0 = floor, 1 = peak) at ``frac`` of the decay horizon."""
    if shape == "cosine":
        return 0.5 * (1 + math.cos(math.pi * frac))
    if shape == "linear":
        return 1 - frac
    return None


def _neox_rise(ctx: Context, horizon: int) -> float | None:
    """How far back towards the peak (0 = floor, 1 = peak) GPT-NeoX's cosine ends, its progress
    running past the decay horizon; None when the schedule cannot be built."""
    eta, _ = ctx.lr_schedule
    if eta is None:
        return None
    lo, hi = float(eta[min(horizon, eta.size - 1)]), float(eta.max())
    return (float(eta[-1]) - lo) / (hi - lo) if hi > lo else None


def decay_horizon(ctx: Context) -> list[Finding]:
    cfg = ctx.config
    shape, steps, d = cfg.value("schedule"), cfg.value("train_steps"), cfg.get("decay_steps")
    if shape not in DECAYING or not steps or d is None or not d.value:
        return []
    ratio = float(d.value) / float(steps)
    if abs(ratio - 1) <= HORIZON_TOL:
        return []
    # The run's length unrounded when the horizon's field converts it (Megatron's samples / batch):
    # --train-samples 10000003 at batch 512 is 19531.26 steps, and the fix is 10000003 samples.
    run = steps if d.line is not None and not float(steps).is_integer() else int(round(steps))
    fix = suggest(ctx, "decay_steps", run, "the run length")
    if d.offset and d.offset >= steps:  # the decay would start after the run: move its start
        fix = (d.field, f"the decay starts at step {_num(d.offset)}, not before the run's end ({_num(steps)}): "
               f"start it earlier, so that it ends at step {_num(steps)}")
    elif d.offset:
        fix = (d.field, f"set {d.field} to {_num(round(steps - d.offset))} (the run length {_num(steps)} less the "
               f"{_num(d.offset)} steps before the decay)")
    if ratio < 1:
        tail = steps - d.value
        back = _neox_rise(ctx, int(d.value)) if cfg.format == "neox" and shape == "cosine" else None
        if back:
            msg = (f"the lr decays over {_num(d.value)} steps but the run lasts {_num(steps)}, and GPT-NeoX's "
                   f"cosine does not hold its floor after the horizon: over the last {_num(tail)} steps "
                   f"({tail / steps:.0%} of the run) it rises again, ending {back:.0%} of the way back to the peak.")
            return [_finding(ctx, "decay-horizon-mismatch", "error" if back >= 0.5 else "warning", "decay_steps",
                             msg, fix)]
        msg = (f"the lr decays over {_num(d.value)} steps but the run lasts {_num(steps)}: it sits at its "
               f"floor for the last {_num(tail)} steps ({tail / steps:.0%} of the run).")
        return [_finding(ctx, "decay-horizon-mismatch", "warning", "decay_steps", msg, fix)]
    left = _end_of_run_lr(shape, 1 / ratio)
    where = "" if left is None else f"; the lr is still {left:.0%} of the way from its floor to the peak"
    msg = (f"the decay horizon is {_num(d.value)} steps but the run stops at {_num(steps)} "
           f"({1 / ratio:.0%} of the decay{where}): the final anneal is lost.")
    sev = "error" if ratio >= HORIZON_ERROR else "warning"
    cool = cfg.value("wsd_decay_steps")
    start = d.offset if d.offset else (float(d.value) - float(cool) if shape == "wsd" and cool else None)
    if shape == "wsd" and start is not None and start >= steps:  # the cooldown never begins
        msg = (f"the WSD cooldown starts at step {_num(start)} (decay horizon {_num(d.value)}), not before the run "
               f"stops at {_num(steps)}: the lr stays at its peak to the end, with no anneal at all.")
        sev = "error"
    return [_finding(ctx, "decay-horizon-mismatch", sev, "decay_steps", msg, fix)]


def min_lr(ctx: Context) -> list[Finding]:
    cfg = ctx.config
    shape, s, lr = cfg.value("schedule"), cfg.get("min_lr"), cfg.value("lr")
    if s is None or not lr or (shape is not None and shape not in DECAYING):
        return []
    ratio = float(s.value) / float(lr)
    rec = ctx.rec("min_lr")
    target = rec.value * lr / ctx.rec("peak_lr").value if (rec and ctx.rec("peak_lr")) else HIGH_FINAL * lr
    how = f"{rec.law}: {target / lr:.3g}x the peak" if rec else f"{HIGH_FINAL:g}x the peak"
    default = " (the trainer's default: not set in the file)" if s.line is None else ""
    if ratio >= NO_DECAY:
        return [_finding(ctx, "min-lr-no-decay", "error", "min_lr",
                         f"min lr {units.format_sci(s.value)}{default} is {ratio:.3g}x the peak "
                         f"{units.format_sci(lr)}: the {shape or 'decay'} schedule does not decay.",
                         suggest(ctx, "min_lr", float(f"{target:.3g}"), how))]
    found = []
    if ratio > HIGH_FINAL * (1 + 1e-6):
        found.append(_finding(ctx, "min-lr-high", "info", "min_lr",
                              f"min lr is {ratio:.3g}x the peak; published schedules end at 0-{HIGH_FINAL:g}x.",
                              suggest(ctx, "min_lr", float(f"{target:.3g}"), how)))
    if cfg.format == "neox" and shape == "linear" and ratio > 0:
        # AnnealingLR: lr = peak (E - n) / E, then max(lr, min_lr): it meets the floor at 1 - ratio of the decay
        found.append(_finding(ctx, "linear-floor-early", "info", "min_lr",
                              f"GPT-NeoX's linear decay falls toward 0 and is floored at min_lr ({ratio:.3g}x the peak): "
                              f"the lr reaches its floor at {1 - ratio:.0%} of the decay and stays there for the "
                              f"last {ratio:.0%} of it.",
                              "set min_lr to 0 for a linear decay to zero, or use cosine, which GPT-NeoX decays "
                              "to min_lr"))
    return found


def _half_life(beta2: float) -> float:
    return math.log(0.5) / math.log(beta2) if 0 < beta2 < 1 else math.inf


def beta2(ctx: Context) -> list[Finding]:
    s, rec, b = ctx.config.get("beta2"), ctx.rec("adam_beta2"), _batch_tokens(ctx.config)
    if s is None or rec is None or b is None or not 0 < s.value < rec.value < 1:
        return []
    mine, theirs = _half_life(float(s.value)), _half_life(rec.value)
    if mine >= BETA2_HALF_LIFE * theirs:
        return []
    msg = (f"adam beta2 {s.value:g} averages the second moment over a half-life of {mine:.3g} steps "
           f"({units.format_si(mine * b)} tokens); at a {units.format_si(b)}-token batch {rec.law} gives "
           f"{rec.value:.4g} ({theirs:.3g} steps).")
    sev, msg = _graded("warning", [rec], msg)
    return [_finding(ctx, "beta2-too-low", sev, "beta2", msg,
                     suggest(ctx, "beta2", float(f"{rec.value:.4g}"), rec.law))]


def weight_decay_groups(ctx: Context) -> list[Finding]:
    cfg = ctx.config
    if not cfg.value("weight_decay"):
        return []
    out = []
    # Info only: torchtitan (norms) and Megatron-LM (embeddings) decay them with no config switch,
    # and the evidence is a practice (OLMo 2 dropped embedding decay for stability), not a law.
    for key, rule, sev, what in (("wd_on_norms", "wd-on-norms", "info", "norm gains and biases"),
                                 ("wd_on_embeddings", "wd-on-embeddings", "info", "embeddings")):
        s = cfg.get(key)
        if s is None or s.value is not True:
            continue
        how = "by the trainer's default" if s.line is None else "as configured"
        trainer = TRAINERS.get(cfg.format)
        if trainer is not None and trainer.wd_switch:  # the config can say it (Trainer.wd_switch): name the field
            fix = f"exclude the {what} from weight decay ({s.field})"
        else:
            fix = (f"{cfg.format} has no config switch for it: exclude the {what} from weight decay in "
                   "the optimizer's parameter groups (a code change)")
        out.append(_finding(ctx, rule, sev, key,
                            f"weight decay {cfg.value('weight_decay'):g} applies to the {what} ({how}).",
                            (s.field, fix)))
    return out


def mup(ctx: Context) -> list[Finding]:
    cfg = ctx.config
    if cfg.value("use_mup") is not True or cfg.value("mup_base_shapes") is not False:
        return []
    return [_finding(ctx, "mup-without-base-shapes", "error", "use_mup",
                     "muP is switched on but no base shapes are given: the width multipliers are all 1 "
                     "and the run trains in standard parameterization with muP's settings.",
                     suggest(ctx, "mup_base_shapes", True, "give the base (proxy) shapes"))]


def trainer_refuses(ctx: Context) -> list[Finding]:
    why = ctx.config.value("trainer_refuses")
    if not why:
        return []
    return [_finding(ctx, "trainer-refuses", "error", "trainer_refuses", f"{why}.",
                     "fix the config so the trainer starts")]


def batch_arithmetic(ctx: Context) -> list[Finding]:
    cfg = ctx.config
    if cfg.value("batch_arithmetic_ok") is not False:
        return []
    parts = {k: s for k in ("micro_batch_seqs", "grad_accum", "data_parallel") if (s := cfg.get(k))}
    g = cfg.get("global_batch_seqs")
    shown = " x ".join(f"{p.field} {_num(p.value)}" for p in parts.values())
    product = math.prod(p.value for p in parts.values()) if parts else None
    stated = f"{g.field} {_num(g.value)}" if g is not None else "the global batch"
    if product and len(parts) == 3:
        fix = suggest(ctx, "global_batch_seqs", int(product), f"= {shown}")
        msg = f"{stated} != {shown} = {_num(product)}: the trainer will refuse it or change the batch."
    else:
        fix = (g.field if g else None, f"make {stated} a whole multiple of {shown}")
        msg = f"{stated} is not a whole multiple of {shown}: the accumulation steps are not a whole number."
    return [_finding(ctx, "batch-arithmetic", "error", "global_batch_seqs", msg, fix)]


def compute_optimal(ctx: Context) -> list[Finding]:
    opt, gap = ctx.rec("compute_optimal_params"), ctx.rec("compute_optimal_loss_gap")
    if opt is None or ctx.advice is None:
        return []
    spec = ctx.advice.spec
    ratio = spec.model.params / opt.value
    if 1 / OPTIMAL_RATIO <= ratio <= OPTIMAL_RATIO:
        return []
    d_opt = ctx.rec("compute_optimal_tokens")
    cost = f" Predicted loss cost {gap.value:.4f} nats ({gap.law})." if gap is not None else ""
    msg = (f"{units.format_si(spec.tokens)} tokens for {units.format_si(spec.model.params)} params "
           f"({spec.tokens / spec.model.params:.3g} tokens/param) is {ratio:.3g}x the compute-optimal "
           f"model size {units.format_si(opt.value)} at this compute ({opt.law}).{cost}")
    key = "train_steps" if ctx.config.get("train_steps") else "tokens"
    s = ctx.config.get(key)
    text = (f"compute-optimal at this compute: N = {units.format_si(opt.value)}"
            + (f", D = {units.format_si(d_opt.value)} tokens" if d_opt else "")
            + "; over-training on purpose (cheaper inference) is common.")
    return [_finding(ctx, "tokens-off-compute-optimal", "info", key, msg,
                     (s.field if s else None, text))]


def contradictions(ctx: Context) -> list[Finding]:
    ref = ctx.reference
    if ref is None:
        return []
    out = []
    for key, theirs in ref.settings.items():
        mine = ctx.config.get(key)
        if mine is None or theirs.line is None or key == "batch_arithmetic_ok":
            continue
        a, b = mine.value, theirs.value
        if isinstance(a, bool) or isinstance(b, bool) or not (
                isinstance(a, (int, float)) and isinstance(b, (int, float))):
            differ = a != b
        else:
            differ = abs(a - b) > CONTRADICTION_TOL * max(abs(a), abs(b))
        if not differ:
            continue
        msg = (f"{key} is {_shown(a)} here but {_shown(b)} in the run file "
               f"({ref.path}:{theirs.line}, {theirs.field}): the advice was for a different run.")
        out.append(_finding(ctx, "run-file-contradiction", "error", key, msg, suggest(ctx, key, b)))
    return out


def schedule_gap(ctx: Context) -> list[Finding]:
    """The config's lr schedule against the best of the common schedules, under a fitted curve law."""
    law = ctx.curve_law
    if law is None:
        return []
    from hpadvisor.errors import HpAdvisorError
    from hpadvisor.fitting import curve_advice

    key = law.registry_key
    eta, why = ctx.lr_schedule
    if eta is not None:
        try:
            result = curve_advice.compare_given([law], eta, search=False)
        except HpAdvisorError as exc:
            why = str(exc)
    if why:
        return [Finding("schedule-loss-gap", "info", None, None, f"the curve law {key} was not applied: {why}",
                        "give the schedule literally (peak lr, decay style, warmup, steps) to have it checked")]
    rows = result["ranking"]
    mine, best = next(r for r in rows if r["schedule"] == "this config"), rows[0]
    gap = mine["gap_percent"] / 100
    if gap < SCHEDULE_INFO:
        return []
    fitted = law.provenance.range_dict()
    longest = fitted.get("steps", (None, None))[1]
    lo, hi = fitted.get("peak_lr", (None, None))
    inside = (longest is not None and result["steps"] <= SCHEDULE_MAX_EXTRAPOLATION * longest
              and (lo is None or lo * 0.999 <= result["peak_lr"] <= hi * 1.001))
    sev = "warning" if gap >= SCHEDULE_WARN and inside else "info"
    msg = (f"{key} predicts this schedule ends at loss {mine['final_loss']:.4f}, {gap:.2%} above "
           f"'{best['schedule']}' ({best['final_loss']:.4f}) at the same steps, peak lr and warmup.")
    if result["notes"]:
        msg += " Extrapolated: " + " ".join(result["notes"])
    if sev == "info" and gap >= SCHEDULE_WARN:
        msg += (f" (Info only: beyond {SCHEDULE_MAX_EXTRAPOLATION:g}x the longest fitted run or outside its "
                "peak lr range, the law's error is unmeasured.)")
    return [_finding(ctx, "schedule-loss-gap", sev, "schedule", msg,
                     f"consider '{best['schedule']}'; `hpadvisor compare-schedules LAW --config "
                     f"{ctx.config.path}` ranks them all")]


def advice_unavailable(ctx: Context) -> list[Finding]:
    """A gate that could not check does not pass: an input a law-based rule needs and the config does
    not give is an error naming the flag or field that gives it, unless a partial check is accepted
    (``--allow-incomplete``, or ``allow-incomplete: true`` in the check settings): then info."""
    out = []
    if ctx.advice is None and ctx.skipped and not any(m.what in _ADVICE_NEEDS for m in ctx.missing):
        # the size and the tokens are there, but the laws refuse one of the values
        out.append(Finding("invalid-value", "error", None, None, f"the law-based rules did not run: {ctx.skipped}",
                           "fix the value it names"))
    if ctx.missing:
        head = ("the law-based rules did not run" if ctx.advice is None
                else "some law-based rules could not run")
        parts = "; ".join(f"{m.what} is unknown: {m.why}" for m in ctx.missing)
        give = " and ".join(m.give for m in ctx.missing)
        field = ctx.missing[0].give.split()[0]
        if ctx.allow_incomplete:
            out.append(Finding("advice-unavailable", "info", field, None,
                               f"{head}: {parts}. Accepted as a partial check (allow-incomplete).", f"give {give}"))
        else:
            out.append(Finding("advice-unavailable", "error", field, None, f"{head}: {parts}.",
                               f"give {give}; or accept a partial check with --allow-incomplete "
                               "(allow-incomplete: true in the check settings)"))
    return out


#: what the advice itself needs (the other missing inputs leave it, and some rules, standing)
_ADVICE_NEEDS = ("the model size", "the token count")


def input_contradiction(ctx: Context) -> list[Finding]:
    """--tokens against the run length the config states (steps x batch x sequence length)."""
    t, s = ctx.tokens_given, ctx.config.get("tokens")
    if t is None or s is None or not s.value:
        return []
    own = float(s.value)
    if abs(t - own) <= CONTRADICTION_TOL * max(t, own):
        return []
    msg = (f"--tokens {units.format_si(t)} contradicts the config's own run length, {s.field} = "
           f"{units.format_si(own)} tokens ({t / own:.3g}x): the trainer runs the config's, the advice was "
           "asked for --tokens.")
    return [_finding(ctx, "input-contradiction", "error", "tokens", msg,
                     (s.field, "drop --tokens (the config states its run length), or change the config's run "
                      f"length to {units.format_si(t)} tokens"))]


def weight_decay_timescale(ctx: Context) -> list[Finding]:
    """The planned weight decay against the lead weight-decay law at the config's own lr, batch and
    tokens (for a timescale law: the AdamW timescale tau = B / (eta lambda D) against its optimum)."""
    cfg, rec = ctx.config, ctx.rec("weight_decay")
    s, lr, b = cfg.get("weight_decay"), cfg.value("lr"), _batch_tokens(cfg)
    if s is None or rec is None or not lr or not b or ctx.advice is None:
        return []
    from hpadvisor.errors import HpAdvisorError

    spec = ctx.advice.spec
    plan = {**spec.variables(), "peak_lr": float(lr), "batch_tokens": b}
    laws = ctx.advice.laws
    targets: dict[str, float] = {}
    for key in (rec.law, *rec.alternatives):
        try:
            value = laws[key].evaluate("weight_decay", plan)
        except (HpAdvisorError, KeyError):
            continue
        if math.isfinite(value) and value > 0:
            targets[key] = value
    target = targets.get(rec.law)
    if target is None:
        return []
    lam = float(s.value)
    law = laws[rec.law]
    others = ", ".join(f"{k} {v:.3g}" for k, v in targets.items() if k != rec.law)
    tail = f" Other rules at this lr and batch: {others}." if others else ""
    tokens, tpp = spec.tokens, spec.tokens / spec.model.params
    where = (f"at peak lr {units.format_sci(lr)}, a {units.format_si(b)}-token batch and "
             f"{units.format_si(tokens)} tokens ({tpp:.3g} tokens/param)")
    default = " (the trainer's default: not set in the file)" if s.line is None else ""
    fix = suggest(ctx, "weight_decay", float(f"{target:.3g}"), f"{rec.law} at this lr and batch")
    if lam <= 0:
        return [_finding(ctx, "weight-decay-timescale", "info", "weight_decay",
                         f"weight decay is 0{default}: no decay; {rec.law} gives {target:.3g} {where}.{tail}", fix)]
    ratio = lam / target
    if 1 / WD_INFO <= ratio <= WD_INFO:
        return []
    sev = "warning" if not 1 / WD_WARN <= ratio <= WD_WARN else "info"
    if sev == "warning" and min(targets.values()) <= lam <= max(targets.values()):
        sev = "info"  # another published rule gives it
    if "timescale" in law.kinds:
        tau, tau_opt = b / (float(lr) * lam * tokens), b / (float(lr) * target * tokens)
        msg = (f"weight decay {lam:g}{default} {where} sets AdamW's timescale tau = B/(eta lambda D) to "
               f"{tau:.3g} of the run; {rec.law} puts the optimum at {tau_opt:.3g}, i.e. weight decay "
               f"{target:.3g} ({ratio:.3g}x that).{tail}")
    else:
        msg = f"weight decay {lam:g}{default} is {ratio:.3g}x {rec.law}'s {target:.3g} {where}.{tail}"
    factor, _ = law.extrapolation(law.symbols(plan))
    if factor > 1.0 + 1e-9:
        msg += f" ({rec.law} is used {factor:.3g}x outside its fitted range.)"
    return [_finding(ctx, "weight-decay-timescale", sev, "weight_decay", msg, fix)]


#: Every rule id, its default grade and what it checks (SARIF and docs list them from here).
RULES: dict[str, Rule] = {r.id: r for r in (
    Rule("lr-outside-plateau", "warning", "peak lr outside the law's near-optimal plateau"),
    Rule("batch-above-critical", "warning", "global batch far above the critical batch"),
    Rule("warmup-too-short", "warning", "warmup too short (or none)"),
    Rule("warmup-too-long", "warning", "warmup too long for the run"),
    Rule("decay-horizon-mismatch", "warning", "decay horizon differs from the run length"),
    Rule("min-lr-no-decay", "error", "a min lr that means no decay"),
    Rule("min-lr-high", "info", "min lr above the published 0-10% of the peak"),
    Rule("linear-floor-early", "info", "GPT-NeoX's linear decay reaches min_lr before its horizon"),
    Rule("beta2-too-low", "warning", "Adam beta2 too low for the batch"),
    Rule("wd-on-norms", "info", "weight decay on norm gains and biases"),
    Rule("wd-on-embeddings", "info", "weight decay on the embeddings"),
    Rule("mup-without-base-shapes", "error", "muP switched on without base shapes"),
    Rule("batch-arithmetic", "error", "global batch != micro x accumulation x data-parallel"),
    Rule("trainer-refuses", "error", "the trainer's own argument checks refuse the config"),
    Rule("tokens-off-compute-optimal", "info", "tokens far from compute-optimal (info only)"),
    Rule("run-file-contradiction", "error", "the trainer config contradicts the run file"),
    Rule("advice-unavailable", "error", "a law-based rule could not run: an input is missing (info with "
         "--allow-incomplete)"),
    Rule("invalid-value", "error", "a field with no value or a wrong-typed one, or a value the laws refuse"),
    Rule("input-contradiction", "error", "--tokens contradicts the config's own run length"),
    Rule("weight-decay-timescale", "warning", "weight decay far from the lead law's (AdamW timescale) at this "
         "lr, batch and tokens"),
    Rule("schedule-loss-gap", "warning", "a fitted curve law predicts another schedule ends lower"),
)}

#: The functions that produce the findings (one may produce several rule ids).
CHECKS: tuple[Callable[[Context], list[Finding]], ...] = (
    lr_plateau, batch_critical, warmup, decay_horizon, min_lr, beta2, weight_decay_groups, mup,
    batch_arithmetic, trainer_refuses, compute_optimal, contradictions, advice_unavailable, schedule_gap,
    input_contradiction, weight_decay_timescale,
)


def run_rules(ctx: Context, *, disabled: Iterable[str] = (),
              severity: Mapping[str, str] | None = None, extra: Iterable[Finding] = ()) -> list[Finding]:
    """Every rule's findings and ``extra`` ones (``empty_values``), minus ``disabled`` ids, re-graded
    by ``severity`` {id: grade}."""
    off, regrade = set(disabled), dict(severity or {})
    out: list[Finding] = []
    for f in [*extra, *(f for fn in CHECKS for f in fn(ctx))]:
        if f.rule in off:
            continue
        out.append(replace(f, severity=regrade[f.rule]) if f.rule in regrade else f)
    out.sort(key=lambda f: (f.line is None, f.line or 0, -SEVERITIES.index(f.severity), f.rule))
    return out


# -- from a trainer config to the run spec (and back, for recommend --emit) --------------------------

_SHAPES = {"cosine": "cosine", "linear": "linear", "wsd": "wsd", "constant": "constant",
           "inverse_sqrt": "inverse_sqrt", "multistep": "multistep"}


def run_values(cfg: TrainerConfig, *, params: float | None = None, tokens: float | None = None,
               arch_fill: Mapping[str, Any] | None = None) -> tuple[dict[str, Any], list[str]]:
    """Run-file values (dotted keys, base units) implied by a trainer config, and notes.
    ``arch_fill``: architecture settings (a run file's) for what a config with an architecture lacks."""
    from hpadvisor.spec import Architecture

    v: dict[str, Any] = {}
    notes: list[str] = []
    arch = {k: cfg.value(k) for k in ARCH_KEYS if cfg.value(k) is not None}
    filled = [k for k in ARCH_KEYS if arch and k not in arch and (arch_fill or {}).get(k) is not None]
    if filled:
        arch.update({k: arch_fill[k] for k in filled})  # type: ignore[index]
        notes.append(f"from the run file (the config does not state them): {', '.join(filled)}.")
    if all(k in arch for k in ("d_model", "n_layers", "n_heads")):
        if "vocab_size" in arch:
            v.update({f"model.architecture.{k}": x for k, x in arch.items()})
        elif params is None:
            counts = Architecture(**{**arch, "vocab_size": 1}).counts()
            v["model.non_embedding_params"] = counts["non_embedding_params"]
            if arch.get("n_experts"):
                v["model.active_params"] = counts["active_non_embedding_params"]
            notes.append("vocab_size not in the config: parameters counted without embeddings "
                         "(give --model config.json or --params for the total).")
    for key in ("params", "non_embedding_params"):  # a run file's own size, when no architecture gave one
        if params is None and cfg.value(key) is not None and not any(k.startswith("model.") for k in v):
            v[f"model.{key}"] = float(cfg.value(key))
    if params is not None:
        v["model.params"] = params
    t = tokens if tokens is not None else cfg.value("tokens")
    if t is not None:
        v["data.tokens"] = float(t)
    if cfg.value("seq_len") is not None:
        v["seq_len"] = int(cfg.value("seq_len"))
    if cfg.value("global_batch_seqs") is not None:
        v["batch"] = (float(cfg.value("global_batch_seqs")), "sequences")
    if cfg.value("schedule") in _SHAPES:
        v["schedule.shape"] = _SHAPES[cfg.value("schedule")]
    for key, dotted in (("lr", "optimizer.lr"), ("beta2", "optimizer.beta2"),
                        ("weight_decay", "optimizer.weight_decay")):
        if cfg.value(key) is not None:
            v[dotted] = float(cfg.value(key))
    return v, notes


def build_context(cfg: TrainerConfig, *, params: float | None = None, tokens: float | None = None,
                  laws: Mapping[str, Any] | None = None, preferred: Sequence[str] = (),
                  reference: TrainerConfig | None = None,
                  base_values: Mapping[str, Any] | None = None,
                  allow_incomplete: bool = False) -> tuple[Context, list[str]]:
    """Advice for the run a config describes; ``base_values`` (a run file's) fill what it lacks.
    ``allow_incomplete``: inputs the law-based rules lack are reported as info, not as an error."""
    from hpadvisor import spec as spec_mod
    from hpadvisor.errors import HpAdvisorError
    from hpadvisor.laws import REGISTRY
    from hpadvisor.recommend import advisor

    laws = dict(REGISTRY if laws is None else laws)
    fill = {k.removeprefix("model.architecture."): x for k, x in (base_values or {}).items()
            if k.startswith("model.architecture.")}
    values, notes = run_values(cfg, params=params, tokens=tokens, arch_fill=fill)
    if base_values:
        merged = dict(base_values)
        if any(k.startswith("model.") for k in values):
            merged = {k: x for k, x in merged.items() if not k.startswith("model.architecture.")}
        if "data.tokens" in values:
            merged = {k: x for k, x in merged.items() if k not in ("data.tokens_per_param", "data.compute")}
        values = {**merged, **values}
    advice, skipped = None, ""
    try:
        spec = spec_mod.build_spec(values, allocate=advisor.allocator(laws, None))
        advice = advisor.recommend(spec, laws=laws, preferred=preferred)
        notes += [a for a in spec.assumptions if not a.startswith("hardware")]  # time is not checked
    except HpAdvisorError as exc:
        skipped = str(exc)
    sens = next((laws[k] for k in [*preferred, SENSITIVITY_KEY]
                 if k in laws and "sensitivity" in laws[k].kinds), None)
    curve = next((laws[k] for k in preferred if k in laws and "curve" in laws[k].kinds), None)
    used = {x.registry_key for x in (sens, curve) if x is not None}
    if advice is not None:  # a law file that neither the advice, the lr/batch pricing nor the schedule rule used
        notes += [note for key, note in advice.unused if key not in used]
    ctx = Context(config=cfg, advice=advice, reference=reference, sensitivity=sens, skipped=skipped,
                  laws=laws, curve_law=curve, missing=tuple(diagnose(cfg, values)),
                  allow_incomplete=allow_incomplete, tokens_given=tokens)
    return ctx, notes


# -- what a config leaves unread --------------------------------------------------------------------


def nothing_read(cfg: TrainerConfig) -> str | None:
    """Why the file is no config of its format (no line of it sets a setting hpadvisor reads), or None.
    An empty or unrelated launch script would otherwise pass on the trainer's defaults alone."""
    if any(s.line is not None for s in cfg.settings.values()):
        return None
    return (f"{cfg.path}: nothing was read: no line of it sets a {cfg.format} setting hpadvisor checks (lr, "
            "batch, run length, schedule, architecture). Is it the right file? (--format-in names its format.)")


def field_error(exc: Any) -> Report:
    """The report for a config whose reader refused a field (``formats._common.FieldError``): one error
    on the field's line; the other rules did not run."""
    what = "no value" if exc.raw is True and str(exc.field).startswith("-") else f"got {short_value(exc.raw)}"
    msg = (f"{exc.field} must be {exc.requirement}; {what}. The other rules did not run: the config "
           "cannot be read with it.")
    fix = f"give {exc.field} {exc.requirement}, or delete it to use the trainer's default"
    return Report(exc.path, exc.format, (Finding("invalid-value", "error", exc.field, exc.line, msg, fix),))


def short_value(raw: Any, limit: int = 60) -> str:
    text = " ".join(repr(raw).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


_EMPTY_VALUE = "__hpadvisor_empty__"


def empty_values(cfg: TrainerConfig, text: str) -> list[Finding]:
    """A YAML key written with no value (``global_batch_size:`` and nothing after it: a file cut off,
    an edit left unfinished) that the trainer's reader reads: an error on its line.  An explicit
    ``null`` stays what the trainers mean by it, unset (Megatron-LM's own example YAML writes
    ``lr_decay_iters: null``)."""
    import importlib
    import re

    from hpadvisor.errors import HpAdvisorError, InvalidInputError
    from hpadvisor.io import yamlio

    try:
        data, lines = yamlio.loads(text, source=cfg.path)
    except HpAdvisorError:
        return []
    if not isinstance(data, Mapping):
        return []
    rows = text.splitlines()
    reader = importlib.import_module(f"hpadvisor.formats.{cfg.format}").read
    out = []
    for keys, line in sorted(lines.items(), key=lambda kv: kv[1]):
        node: Any = data
        for k in keys:
            node = node.get(k) if isinstance(node, Mapping) else (
                node[int(k)] if isinstance(node, list) and k.isdigit() and int(k) < len(node) else 0)
        row = rows[line - 1] if 0 < line <= len(rows) else ""
        if node is not None or not re.fullmatch(rf"\s*(-\s+)?[\"']?{re.escape(keys[-1])}[\"']?\s*:\s*(#.*)?", row):
            continue
        probe = rows[: line - 1] + [re.sub(r":\s*(#.*)?$", f": {_EMPTY_VALUE}", row, count=1)] + rows[line:]
        try:
            reader(cfg.path, "\n".join(probe) + "\n")
        except InvalidInputError as exc:  # the reader reads this key: its value matters
            if not str(exc).startswith(f"{cfg.path}:{line}:"):
                continue
        except HpAdvisorError:
            continue
        else:
            continue
        last = " (the file's last line: is it cut off?)" if not any(r.strip() for r in rows[line:]) else ""
        out.append(Finding("invalid-value", "error", keys[-1], line,
                           f"{keys[-1]} has no value: line {line} ends after its colon{last}. Read as unset, "
                           "which is not what the line says.",
                           f"write the value of {keys[-1]}, or delete the line to use the trainer's default"))
    return out


def check(cfg: TrainerConfig, **kwargs: Any) -> Report:
    """Check one config with the defaults (no rule configuration): the Python entry point."""
    disabled = kwargs.pop("disabled", ())
    severity = kwargs.pop("severity", None)
    ctx, notes = build_context(cfg, **kwargs)
    return Report(cfg.path, cfg.format, tuple(run_rules(ctx, disabled=disabled, severity=severity)),
                  tuple(cfg.notes) + tuple(notes))
