"""Learning-rate schedules: ``shapes`` (lr(step) for every shape, vectorised), ``trainers`` (a trainer
config's own schedule, with each trainer's rules from its registered ``Trainer``); logged traces are read by :mod:`hpadvisor.io.traces`."""

from hpadvisor.io.logs import read_trace
from hpadvisor.io.traces import LR_JUMP, LR_JUMP_PEAK, MAX_STEPS, check_length, interpolate_trace, sparse_jumps
from hpadvisor.schedules.shapes import (
    CONVENTIONS,
    DEEPSEEK_MILESTONES,
    MAX_COOLDOWNS,
    SHAPES,
    Schedule,
    build,
    decay_coefficient,
    from_trace,
    luo_schedule,
    wsd_cycles,
)
from hpadvisor.schedules.trainers import from_trainer, trainer_convention, warmup_start
