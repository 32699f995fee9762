"""What hpadvisor knows about one trainer, in one object: :class:`Trainer`.

Each trainer module in this package (``formats/<key>.py``) ends with exactly one
``TRAINER = Trainer(...)``; :mod:`hpadvisor.formats.registry` finds them (``TRAINERS``), and every
other package reads its trainer knowledge from there: the reader and writer, content detection,
the lr convention and schedule rules (``schedules``), the weight-decay groups (``check``), the
muP fields (``transfer``), the ``recommend --emit`` notes and the command line's help and choices.

This module sits in the formats layer, below ``schedules`` and ``transfer``: the hooks that work on
their objects (a schedule plan, a transfer plan) take them by their attributes
(:class:`SchedulePlan`), never by importing them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from hpadvisor.formats._common import Draft
    from hpadvisor.formats.base import TrainerConfig

#: The syntaxes a config file can be written in, as detection tells them apart: ``python`` (a .py
#: file, or text that parses as Python assignments), ``shell`` (a launch script: .sh, a ``#!`` line,
#: or lines of ``--flags``), ``toml``, ``json`` and ``yaml``.
SYNTAXES = ("python", "shell", "toml", "json", "yaml")


class SchedulePlan(Protocol):
    """A trainer config's schedule as read, before the trainer's own rules adjust it (the
    ``schedules`` package builds it; a trainer's :attr:`Trainer.schedule_rules` changes it in place)."""

    shape: str  # cosine, linear, wsd, constant, inverse_sqrt, multistep
    peak: float
    total: int  # the run's steps
    horizon: int  # the decay horizon
    warmup: int  # steps (a float where the trainer counts a fraction of a step)
    min_lr: float
    cooldown: int | None  # WSD: its cooldown steps
    init: float  # the lr the warmup starts from, absolute
    decay_start: int | None  # a decay that starts inside the warmup (its step)


def keep_plan(plan: SchedulePlan, cfg: TrainerConfig, notes: list[str]) -> None:
    """Schedule rules of a trainer that computes its config's schedule as read: no change."""


@dataclass(frozen=True)
class MupFields:
    """A transfer plan in a trainer's muP fields: the snippet's title, a note above the fields
    (comment lines, each ending in a newline) and the fields, in the trainer's names."""

    title: str
    fields: dict[str, Any]
    note: str = ""


@dataclass(frozen=True)
class Trainer:
    """One trainer (or hpadvisor's own run file) and everything the project knows about it."""

    key: str  # the name on the command line and in run files ("megatron"); the module's name
    name: str  # its own name, for people ("Megatron-LM")
    order: int  # its place in lists shown to people (help, messages): ascending
    files: str  # the files it reads, after the name ("YAML or launch script"), for help texts
    read: Callable[[str, str], Draft]  # (path, text) -> every canonical setting with its line
    dump: Callable[[dict[str, Any]], str]  # canonical values -> the trainer's own syntax (read back identically)
    #: detection: syntax it writes configs in -> its rank when two trainers' marks tie (lower first)
    syntaxes: Mapping[str, int]
    #: detection: keys ('section.key' when nested, '-' read as '_') that its configs use and others' do not
    markers: frozenset[str] = frozenset()
    #: hpadvisor's own run file (a format, not a trainer: it names the trainer that runs it)
    run_file: bool = False
    #: the formula it computes the lr with (a ``schedules.shapes`` convention); None for the run file
    convention: str | None = None
    #: its own rules applied to the schedule its config gives (``schedules.from_trainer``)
    schedule_rules: Callable[[SchedulePlan, TrainerConfig, list[str]], None] = keep_plan
    #: its WSD warmup starts from the schedule's floor, not from 0
    wsd_warmup_from_floor: bool = False
    #: the config field that chooses which parameters weight decay skips; None: groups built in code
    wd_switch: str | None = None
    #: a transfer plan (``transfer.plan.TransferPlan``) -> its muP fields; None: it has none
    mup: Callable[[Any], MupFields] | None = None
    #: the parameterizations its muP fields can express
    mup_parameterizations: frozenset[str] = frozenset()
    #: its config states the model's shape (a snippet without an architecture leaves it to the user)
    states_shape: bool = True
    #: what it trains when the config states no shape ("its 124M default"), for that note
    shape_default: str = ""
    #: it can state several WSD cooldowns (WSD-S)
    states_wsd_s: bool = False

    def __post_init__(self) -> None:
        bad = set(self.syntaxes) - set(SYNTAXES)
        if bad or not self.syntaxes:  # pragma: no cover - a trainer module's bug, not user input
            raise ValueError(f"trainer '{self.key}': syntaxes {sorted(bad) or 'none'} (one or more of {SYNTAXES})")
