"""The law registry: every published law hpadvisor knows, by its short key.

``REGISTRY`` is a literal dict so that ``hpadvisor laws`` and the docs list exactly what is here.
A fitted law (``hpadvisor fit``) is the same kind of object and is added next to these at run time.
"""

from __future__ import annotations

from hpadvisor.laws.base import Input, Law, Output, Provenance
from hpadvisor.laws.batch import MCCANDLISH, SQRT_BATCH, ZHANG_CBS
from hpadvisor.laws.compute import CHINCHILLA_6ND, DEEPSEEK_FLOPS, KAPLAN_6ND, MFU_TIME
from hpadvisor.laws.curves import MPL_25M, MPL_100M, MPL_400M
from hpadvisor.laws.loss import CHINCHILLA, CHINCHILLA_EPOCH, CHINCHILLA_UNROUNDED, KAPLAN
from hpadvisor.laws.lr_batch import BJORCK, DEEPSEEK, PORIAN, STEPLAW
from hpadvisor.laws.optimizer import (
    ADAMW_TIMESCALE,
    BETA2_HALFLIFE,
    DEFAULT_WD,
    OLMO_BETA2,
    POWERLINES_WD,
)
from hpadvisor.laws.schedule import (
    CONSTANT_LR,
    COSINE_10X,
    D2Z,
    DEEPSEEK_STEPS,
    DEEPSEEK_WARMUP,
    HAGELE_WSD,
    OLMO_WARMUP,
    STEPLAW_FLOOR,
)
from hpadvisor.laws.sensitivity import STEPLAW_SENSITIVITY
from hpadvisor.laws.transfer import COMPLETEP, DEPTH_MUP, MUP, MUP_SGD, SP, UMUP, WIDTH_WD

REGISTRY: dict[str, Law] = {
    law.registry_key: law
    for law in (
        # optimal lr and batch
        STEPLAW,
        DEEPSEEK,
        PORIAN,
        KAPLAN,
        BJORCK,
        SQRT_BATCH,
        STEPLAW_SENSITIVITY,  # loss cost of an lr / batch off the optimum (hpadvisor check)
        # final loss and allocation
        CHINCHILLA,
        CHINCHILLA_UNROUNDED,
        CHINCHILLA_EPOCH,
        # critical batch
        ZHANG_CBS,
        MCCANDLISH,
        # schedule
        OLMO_WARMUP,
        DEEPSEEK_WARMUP,
        COSINE_10X,
        D2Z,
        STEPLAW_FLOOR,
        DEEPSEEK_STEPS,
        CONSTANT_LR,
        HAGELE_WSD,
        # optimizer
        ADAMW_TIMESCALE,
        POWERLINES_WD,
        DEFAULT_WD,
        BETA2_HALFLIFE,
        OLMO_BETA2,
        # compute and time
        DEEPSEEK_FLOPS,
        KAPLAN_6ND,
        CHINCHILLA_6ND,
        MFU_TIME,
        # loss curves under a schedule (published multi-power-law parameters)
        MPL_25M,
        MPL_100M,
        MPL_400M,
        # width and depth transfer (hpadvisor transfer)
        SP,
        MUP,
        MUP_SGD,
        UMUP,
        COMPLETEP,
        DEPTH_MUP,
        WIDTH_WD,
    )
}

__all__ = ["REGISTRY", "Law", "Input", "Output", "Provenance"]
