"""A trainer config's own schedule: each trainer's rules applied to what its config says, as its code computes them."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from hpadvisor.errors import InvalidInputError
from hpadvisor.formats.base import TrainerConfig
from hpadvisor.formats.registry import TRAINERS
from hpadvisor.io.traces import check_length
from hpadvisor.schedules.shapes import MAX_COOLDOWNS, SHAPES, Schedule, wsd_cycles

# -- a trainer config's own schedule -----------------------------------------------------------------

def trainer_convention(trainer: str | None) -> str | None:
    """The convention a trainer computes its lr with (``Schedule.convention``; its
    ``Trainer.convention``), or None for no registered trainer."""
    found = TRAINERS.get(trainer) if trainer else None
    return found.convention if found is not None else None


@dataclass
class _ConfigPlan:
    """A trainer config's schedule as read, before the trainer's own rules adjust it."""

    shape: str
    peak: float
    total: int  # the run's steps
    horizon: int  # the decay horizon (Megatron's lr_decay_iters)
    warmup: int
    min_lr: float
    cooldown: int | None = None  # WSD: its cooldown steps
    cooldown_said: bool = False  # the config gives the cooldown (else 20% of the horizon)
    init: float = 0.0  # the lr the warmup starts from, absolute
    rounded: list = field(default_factory=list)  # step counts given as fractions, rounded (said)
    decay_start: int | None = None  # nanotron: a decay starting inside the warmup (its step)


def _cooldowns(cfg, room: float) -> int:
    """A config's WSD-S cooldown count, checked as :func:`build` checks it."""
    n = cfg.value("cooldowns")
    if n is None:
        return 1
    where, field_ = f"'{cfg.path}'", cfg.get("cooldowns").field
    if isinstance(n, bool) or not isinstance(n, (int, float)) or n != int(n) or not 1 <= n <= MAX_COOLDOWNS:
        raise InvalidInputError(f"{where}: {field_} = {n!r} must be a whole number from 1 to {MAX_COOLDOWNS:,}.")
    if n > room:
        raise InvalidInputError(f"{where}: {int(n)} cooldowns need at least {int(n)} steps after the warmup ({room}).")
    return int(n)


def _read_plan(cfg, exact_warmup: bool = False) -> _ConfigPlan:
    """The schedule values a config gives, checked one by one (no trainer's rules yet).

    ``exact_warmup``: the trainer counts a fractional warmup exactly (Megatron, GPT-NeoX), so a
    warmup given as a fraction of the horizon or in samples is kept, not rounded."""
    where = f"'{cfg.path}'"
    unread = sorted(set(getattr(cfg, "unknown", ())) & {"lr", "min_lr", "schedule", "warmup_steps", "train_steps",
                                                        "decay_steps", "wsd_decay_steps", "wsd_decay_style"})
    if unread:
        raise InvalidInputError(f"{where} sets {', '.join(unread)} by code hpadvisor does not run: the lr schedule "
                                "cannot be built from it; write them as literal values.")
    peak, total = cfg.value("lr"), cfg.value("train_steps")
    missing = [name for name, v in (("the peak lr", peak), ("the number of training steps", total)) if v is None]
    if missing:
        hint = (" For a run file, `hpadvisor schedule RUN.yaml` fills them in from the advice."
                if cfg.format == "hpadvisor" else "")
        raise InvalidInputError(f"{where} does not give {' or '.join(missing)}: the lr schedule cannot be built.{hint}")
    shape = cfg.value("schedule")
    if shape is None:
        raise InvalidInputError(f"{where} does not give its lr decay style: the lr schedule cannot be built.")
    if shape not in SHAPES or shape == "trace":
        raise InvalidInputError(f"{where}: its '{shape}' lr decay is not one hpadvisor computes "
                                f"({', '.join(s for s in SHAPES if s not in ('trace', 'wsd_restarts'))}).")
    if cfg.value("schedule_variant"):
        raise InvalidInputError(f"{where}: its {cfg.value('schedule_variant')} ({cfg.get('schedule_variant').field}) "
                                "is not a schedule hpadvisor computes.")
    if cfg.value("warmup_shape", "linear") != "linear":
        raise InvalidInputError(f"{where}: its {cfg.value('warmup_shape')} warmup ({cfg.get('warmup_shape').field}) "
                                "is not one hpadvisor computes (linear warmups only).")
    total = cfg.steps("train_steps", None)
    if total < 1:
        raise InvalidInputError(f"{where}: {cfg.get('train_steps').field} gives a run of {total} steps.")
    check_length(float(total), f"{where}'s run")
    endless = shape in ("constant", "inverse_sqrt")
    plan = _ConfigPlan(shape, peak, total, horizon=total if endless else cfg.steps("decay_steps", total),
                       warmup=cfg.steps("warmup_steps", 0, exact=exact_warmup),
                       min_lr=0.0 if shape == "constant" else float(cfg.value("min_lr", 0.0) or 0.0),
                       init=cfg.value("warmup_init_lr", 0.0) or 0.0)
    if shape == "wsd":
        plan.cooldown = cfg.steps("wsd_decay_steps", None)
        plan.cooldown_said = plan.cooldown is not None
        if plan.cooldown is None:
            plan.cooldown = max(1, round(0.2 * plan.horizon))
    for key in ("decay_steps", "wsd_decay_steps") if exact_warmup else ("warmup_steps", "decay_steps", "wsd_decay_steps"):
        v = cfg.value(key)
        if isinstance(v, float) and not v.is_integer():  # e.g. Megatron's fraction x horizon, or samples / batch
            plan.rounded.append(f"{cfg.get(key).field} gives {v:g} steps, computed as {round(v)} (the trainer counts "
                                "a fraction of a step: its lr differs slightly over that phase)")
    return plan


def warmup_start(trainer: str | None, shape: str, floor: float) -> float:
    """The lr a trainer's warmup starts from, given the schedule's floor (in the floor's units):
    the floor for a WSD schedule of a trainer whose WSD warms up from it
    (``Trainer.wsd_warmup_from_floor``: HF's ``_get_wsd_scheduler_lambda``); the others from 0
    (Megatron's explicit lr_warmup_init aside).  One rule for configs and run files."""
    found = TRAINERS.get(trainer) if trainer else None
    return floor if found is not None and found.wsd_warmup_from_floor and shape == "wsd" else 0.0


def from_trainer(cfg: TrainerConfig) -> tuple[np.ndarray, str, list[str]]:
    """The per-step lr (steps 0..train_steps) a trainer config runs with, a label and notes.

    ``cfg`` is a :class:`hpadvisor.formats.base.TrainerConfig`.  The values it gives are read
    (:func:`_read_plan`), the trainer's own rules applied (its ``Trainer.schedule_rules``), and the
    lr computed with its convention (``Trainer.convention``).  The decay runs over the config's decay horizon
    (Megatron's ``lr_decay_iters``): past it the lr stays at its floor (GPT-NeoX's cosine rises
    again), and a horizon beyond the run cuts the decay short, as the trainer does.
    """
    where = f"'{cfg.path}'"
    notes: list[str] = []
    own = TRAINERS.get(cfg.format)
    trainer = cfg.value("trainer") if own is not None and own.run_file else cfg.format  # a run file may name it
    convention = trainer_convention(trainer)
    if convention is None:
        convention = "megatron"
        notes.append(f"{cfg.format}: computed with Megatron's convention (warmup and decay step by step "
                     "may differ from the trainer's by a step; schedule.trainer names another).")
    plan = _read_plan(cfg, exact_warmup=convention in ("megatron", "neox"))
    notes += [f"{r}." for r in plan.rounded]
    plan.init = warmup_start(trainer, plan.shape, plan.min_lr) or plan.init
    if trainer in TRAINERS:
        TRAINERS[trainer].schedule_rules(plan, cfg, notes)
    shape, horizon, total, warmup = plan.shape, plan.horizon, plan.total, plan.warmup
    if plan.decay_start is not None:  # built from the decay's start; the warmup laid over it below
        warmup = plan.decay_start
    if horizon <= warmup and shape not in ("constant", "inverse_sqrt"):
        raise InvalidInputError(f"{where}: the lr decay horizon ({horizon} steps) ends before the warmup does "
                                f"({warmup:.6g} steps).")
    shape, extra = _wsd_cycles(cfg, plan, shape, horizon, warmup, where, notes)
    if shape == "multistep":
        notes.append("multistep: DeepSeek's milestones (x0.316 at 80%, x0.1 at 90% of the run); the "
                     "config's own are not read.")
    peak = plan.peak
    init_frac = _warmup_init_fraction(cfg, plan, where)
    sched = Schedule(shape, peak=float(peak), total_steps=horizon, warmup_steps=min(warmup, horizon),
                     min_lr=plan.min_lr, convention=convention, warmup_init=init_frac, **extra)
    eta = _over_the_run(sched, plan, shape, convention, notes)
    label = sched.describe()
    if plan.decay_start is not None:  # nanotron's warmup branch, over the decay that started inside it
        w = min(plan.warmup, total)
        s = np.arange(w + 1, dtype=float)
        eta = eta.copy()
        eta[: w + 1] = init_frac * peak + (peak - init_frac * peak) * s / max(plan.warmup, 1)
        # the schedule was built with its warmup at the decay's start: the label names both
        label = label.replace(f"warmup {warmup:.6g}", f"warmup {plan.warmup:.6g}, decay from step {warmup}")
    return eta, f"{cfg.path} [{cfg.format}]: {label}", notes


def _wsd_cycles(cfg: TrainerConfig, plan, shape: str, horizon: int, warmup: float, where: str,
                notes: list[str]) -> tuple[str, dict]:
    """A WSD schedule's cooldown (checked to fit after the warmup) and, with several cooldowns,
    its WSD-S cycles: (shape, the Schedule's extra arguments)."""
    if shape != "wsd":
        said = cfg.get("cooldowns")
        if said is not None and said.value is not None:
            raise InvalidInputError(f"{where}: {said.field} applies to a wsd schedule, not {shape}.")
        return shape, {}
    if not plan.cooldown_said:
        notes.append("the config gives no WSD cooldown length: the last 20% of the decay horizon.")
    room = horizon - warmup
    if not 1 <= plan.cooldown <= room:
        said = cfg.get("wsd_decay_steps")
        field_ = said.field if said else "the cooldown"
        raise InvalidInputError(f"{where}: the WSD cooldown ({field_}: {plan.cooldown:,} steps) must be at least "
                                f"1 step and fit in the {room:,.6g} steps after the warmup.")
    extra: dict = {"decay_steps": plan.cooldown, "decay_shape": cfg.value("wsd_decay_style") or "linear"}
    n = _cooldowns(cfg, room)
    if n > 1:  # WSD-S (a run file's schedule.cooldowns): cycles as build spaces them
        shape = "wsd_restarts"
        extra["cycles"] = wsd_cycles(round(warmup), horizon, n)
    return shape, extra


def _warmup_init_fraction(cfg: TrainerConfig, plan, where: str) -> float:
    """The lr the warmup starts from, as a fraction of the peak (0 unless the plan gives one)."""
    peak, init = plan.peak, plan.init
    if not init:
        return 0.0
    # Megatron's lr_warmup_init (absolute); nanotron's constant warmup style gives the peak
    ok_peak = isinstance(peak, (int, float)) and not isinstance(peak, bool) and 0 < peak < math.inf
    if ok_peak and isinstance(init, (int, float)) and not isinstance(init, bool) and 0 <= init <= peak:
        return float(init) / float(peak)
    if ok_peak:
        said = cfg.get("warmup_init_lr")
        raise InvalidInputError(f"{where}: {said.field if said else 'the lr the warmup starts from'} = {init!r} "
                                f"is not an lr in [0, the peak lr {peak:g}].")
    return 0.0


def _over_the_run(sched: Schedule, plan, shape: str, convention: str, notes: list[str]) -> np.ndarray:
    """The lr of steps 0..total from a schedule built over the decay horizon: continued past the
    horizon as the trainer does (NeoX's progress runs on; the others hold the floor), or cut at
    the run's end."""
    horizon, total = plan.horizon, plan.total
    eta = sched.sequence()
    if horizon < total and convention == "neox":  # NeoX's progress runs past its horizon
        eta = sched.lr(np.arange(total + 1, dtype=float))
        if shape == "cosine" and eta[-1] > eta[horizon] * (1 + 1e-9):
            notes.append(f"GPT-NeoX's cosine is not held at its floor after lr_decay_iters ({horizon:,}): it rises "
                         f"again, to {eta[-1]:.3g} at the run's end ({total:,} steps).")
    elif horizon < total:
        eta = np.concatenate([eta, np.full(total - horizon, plan.min_lr if shape == "inverse_sqrt" else eta[-1])])
        notes.append(f"the lr decays over {horizon:,} steps and stays at {eta[-1]:.3g} for the last "
                     f"{total - horizon:,} of {total:,}.")
    elif horizon > total:
        eta = eta[: total + 1]
        notes.append(f"the decay horizon ({horizon:,} steps) is past the run's end ({total:,}): the lr ends at "
                     f"{eta[-1]:.3g}, above its floor {plan.min_lr:.3g}.")
    return eta
