"""The planned run: read from a YAML run file and/or flags, validated, normalised to base units.

``fields`` describes the run file, ``model`` holds the normalised RunSpec and its parameter counts,
``parse`` reads values with units, ``resolve`` fills defaults; ``units`` and ``hardware`` serve them.
"""

from hpadvisor.spec.fields import (
    DECAY_ALIASES,
    DECAY_SHAPES,
    FIELDS,
    MAX_COMPUTE,
    OPTIMIZERS,
    SCHEDULE_SHAPES,
    SYNONYMS,
    TRAINERS,
    Field,
    field_paths,
    json_schema,
)
from hpadvisor.spec.model import Architecture, HardwareSpec, ModelSpec, OptimizerSpec, RunSpec, ScheduleSpec
from hpadvisor.spec.parse import Lines, convert, load_values, parse_overrides, parse_raw
from hpadvisor.spec.resolve import Allocator, build_spec
