"""Reading fit inputs (sweeps, ladders, batch studies) and selecting rows with --holdout.

Every table goes through :func:`hpadvisor.io.tables.read_table` (CSV/TSV/JSONL/JSON/Parquet, aliases,
``--map``).  This module adds what fits share: the parameter-count convention (the law file records
whether N counted non-embedding or total parameters), batch units (tokens, or sequences times
``--seq-len``), diverged runs (reported and excluded with a count), non-positive sizes (one line
with the row number), and the ``--holdout`` expression (``'N >= 1e9'``, ``'D < 5e10 and N > 3e8'``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from hpadvisor.errors import DataError, InvalidInputError

if TYPE_CHECKING:
    import pandas as pd

PARAM_COUNTS = ("non-embedding", "total")

#: Canonical columns and their accepted aliases (normalised: case, spaces, / - . folded).
COLUMNS: dict[str, tuple[str, ...]] = {
    "N": ("params", "n_params", "parameters", "num_params", "model_size", "non_embedding_params",
          "nonembedding_params", "non_embedding_parameters", "n_nonemb", "model_params", "N_nominal",
          "total_params", "total_parameters"),
    "D": ("tokens", "n_tokens", "train_tokens", "training_tokens", "data_tokens", "dataset_size"),
    "C": ("flops", "compute", "training_flop", "training_flops", "train_flops", "C_flops"),
    "lr": ("learning_rate", "peak_lr", "lr_peak", "max_lr"),
    "batch_tokens": ("batch_size_tokens", "tokens_per_step", "global_batch_tokens", "bs_tokens"),
    "batch": ("bs", "batch_size", "global_batch_size", "batch_size_seqs", "batch_seqs", "gbs"),
    "loss": ("smooth_loss", "final_loss", "val_loss", "eval_loss", "train_loss", "smoothed_loss"),
    "steps": ("steps_to_target", "steps_to_loss", "num_steps", "iterations"),
    "model": ("model_name", "run_group", "size_name"),
    "seq_len": ("sequence_length", "seq_length", "context_length", "max_seq_len", "max_sequence_length"),
}


@dataclass
class Table:
    """A validated fit input: canonical numeric columns plus what was done to get them."""

    frame: pd.DataFrame  # canonical columns, original row numbers in "row"
    path: str
    sha256: str
    notes: list[str] = field(default_factory=list)
    excluded: dict[str, int] = field(default_factory=dict)
    param_count: str = "non-embedding"
    seq_len: float | None = None  # tokens per sequence: --seq-len, else the file's seq_len column

    def source(self) -> dict[str, object]:
        return {"file": self.path, "sha256": self.sha256, "rows": int(len(self.frame)),
                "excluded": dict(self.excluded)}


def param_count_of(column: str | None) -> str | None:
    """What an N column's own name says it counts: ``non_embedding_params``, ``n_nonemb`` ... are
    non-embedding, ``total_params`` total; None when the name does not say (``params``, ``N``)."""
    from hpadvisor.io.tables import normalise

    key = normalise(column).replace("_", "") if column is not None else ""
    if "nonemb" in key:
        return "non-embedding"
    return "total" if "total" in key else None


def read_fit_table(
    path: str | Path,
    *,
    need: Sequence[str],
    mapping: Mapping[str, str] | None = None,
    what: str,
    param_count: str | None,
    default_param_count: str,
    seq_len: float | None = None,
    batch_unit: str | None = None,
    need_batch: bool = False,
) -> Table:
    """Read ``path`` with the canonical columns ``need`` (plus batch if ``need_batch``)."""
    from hpadvisor.io.tables import normalise, read_table

    if param_count is not None and param_count not in PARAM_COUNTS:
        raise InvalidInputError(f"`param_count` must be non-embedding or total, not '{param_count}'.")
    mapping = dict(mapping or {})
    required = [c for c in need if c not in ("D",)]
    frame = read_table(path, columns=COLUMNS, required=required, mapping=mapping,
                       numeric=[c for c in COLUMNS if c != "model"], what=what)
    digest, n_column = frame.attrs["sha256"], frame.attrs["column_of"].get("N")
    notes: list[str] = []
    frame = frame.reset_index(drop=True)
    first = frame.attrs.get("rows", ("row", 2))[1]
    frame["row"] = frame.index + first  # as errors name rows: a CSV's header is row 1
    # The loss column: prefer a smoothed final loss when the file has both (Step Law's data).
    if "loss" in need and "loss" not in mapping:
        for col in list(frame.columns):
            if normalise(col) in ("smooth_loss", "smoothed_loss") and col != "loss":
                import pandas as pd

                frame["loss_raw"] = frame["loss"]
                frame["loss"] = pd.to_numeric(frame[col], errors="coerce")
                notes.append(f"loss from '{col}' (smoothed); `mapping` loss=<column> to choose another.")
                break
    if "D" in need and "D" not in frame.columns:
        if "C" in frame.columns:
            frame["D"] = frame["C"] / (6.0 * frame["N"])
            notes.append("D = C / (6 N) from the compute column (no tokens column).")
        else:
            raise DataError(
                f"{what} '{path}' has no D column (accepted names: D, {', '.join(COLUMNS['D'])}) and no "
                f"compute column to derive it. Use `mapping` D=<column>."
            )
    # Which parameter count N is: said by --param-count, else by the N column's name, else the law's
    # own convention.
    said = param_count_of(n_column)
    if param_count is None and said is not None:
        param_count = said
        notes.append(f"N taken as {param_count} parameters (the column '{n_column}'); "
                     f"pass `param_count` to say otherwise.")
    elif param_count is None:
        param_count = default_param_count
        notes.append(f"N taken as {param_count} parameters (this law's convention); "
                     f"pass `param_count` to say otherwise.")
    if need_batch:
        if seq_len is None:
            seq_len = _seq_len_from(frame, path, what, notes)
        _batch_in_tokens(frame, path, what, seq_len, batch_unit, notes)
    for col in [c for c in ("N", "D", "lr", "batch_tokens", "steps") if c in frame.columns and c in (*need, "batch_tokens")]:
        _check_positive(frame, col, path, what)
    _check_scale(frame, path, what, seq_len)
    return Table(frame=frame, path=str(path), sha256=digest, notes=notes, param_count=param_count,
                 seq_len=seq_len)


#: Below these a column is in other units (billions, sequences): no language model is smaller.
SMALLEST = {"N": (1e3, "parameters", "in millions or billions"), "D": (1e6, "tokens", "in billions")}


def check_size(what: str, path: str, name: str, least_seen: float, *, derived: bool = False,
               most_seen: float | None = None) -> None:
    """Refuse a size no training run has (``SMALLEST``: N or D): a column in other units, refused
    with the likely cause; a D derived as C / (6 N) (``derived``) points at the compute column.
    ``most_seen``: the column's largest value, refused above the range hpadvisor computes with
    (``units.SIZE_RANGES``: a 1e308 row overflowed the fit's arithmetic)."""
    least, unit, likely = SMALLEST[name]
    if most_seen is not None:
        from hpadvisor.spec.units import SIZE_RANGES

        most = SIZE_RANGES[unit][1]
        if most_seen > most:
            raise DataError(f"{what} '{path}': {name} = {most_seen:g} {unit} is above {most:g}, beyond any training "
                            f"run: check the column's units, or drop that row.")
    if not least_seen < least:  # NaN (an empty column) is left to the checks that name it
        return
    if derived:
        raise DataError(f"{what} '{path}': D = C / (6 N) = {least_seen:g} tokens is below {least:g}: is the "
                        "compute column in FLOPs (not PF-days or another unit)?")
    raise DataError(f"{what} '{path}': {name} = {least_seen:g} {unit} is below {least:g}: is the column "
                    f"{likely}? Give plain {unit} (e.g. 7e9), or `mapping` {name}=<column>.")


def _check_scale(frame, path, what, seq_len) -> None:
    """Sizes no training run has: a column in other units, refused with the likely cause."""
    for col in SMALLEST:
        if col in frame.columns:
            check_size(what, path, col, float(frame[col].min()), most_seen=float(frame[col].max()),
                       derived=col == "D" and "D" not in frame.attrs.get("column_of", {}))
    if seq_len and "batch_tokens" in frame.columns and float(frame["batch_tokens"].min()) < seq_len:
        raise DataError(f"{what} '{path}': a batch of {float(frame['batch_tokens'].min()):g} tokens is less than "
                        f"one sequence of {seq_len:g}: is `batch_unit` right (sequences, not tokens)?")


def _seq_len_from(frame, path, what, notes) -> float | None:
    """The sequence length the file states: one value in its seq_len column, else None."""
    import numpy as np

    if "seq_len" not in frame.columns:
        return None
    values = np.unique(frame["seq_len"].to_numpy(dtype=float))
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None
    if values.size == 1 and (values[0] < 1 or values[0] != round(values[0])):
        raise DataError(f"{what} '{path}': seq_len = {values[0]:g} must be a whole number of tokens >= 1.")
    if values.size != 1:
        raise DataError(
            f"{what} '{path}': the seq_len column holds {values.size} different values "
            f"({', '.join(f'{v:g}' for v in values[:4])}); one sequence length per file, or give `seq_len`."
        )
    notes.append(f"sequence length {int(values[0])} tokens from the file's seq_len column.")
    return float(values[0])


def _batch_in_tokens(frame, path, what, seq_len, batch_unit, notes) -> None:
    unit = (batch_unit or "").strip().lower() or None
    if unit not in (None, "tokens", "seqs", "sequences"):
        raise InvalidInputError(f"`batch_unit` must be tokens or seqs, not '{batch_unit}'.")
    if "batch" in frame.columns and unit != "tokens" and not ("batch_tokens" in frame.columns and unit is None):
        if seq_len is None:
            raise InvalidInputError(
                f"{what} '{path}': the batch column counts sequences unless told otherwise; give "
                f"`seq_len` (e.g. `seq_len` 2048) or `batch_unit` tokens."
            )
        frame["batch_tokens"] = frame["batch"] * float(seq_len)
        notes.append(f"batch in sequences of {int(seq_len)} tokens.")
    elif "batch" in frame.columns and "batch_tokens" not in frame.columns:
        frame["batch_tokens"] = frame["batch"]
        notes.append("batch in tokens (`batch_unit` tokens).")
    if "batch_tokens" not in frame.columns:
        raise DataError(
            f"{what} '{path}' has no batch column (accepted names: batch, {', '.join(COLUMNS['batch'])}, "
            f"or batch_tokens, {', '.join(COLUMNS['batch_tokens'])}). Found: "
            f"{', '.join(c for c in frame.columns if c != 'row')}. Use `mapping` batch=<column>."
        )


def _check_positive(frame, col, path, what) -> None:
    import numpy as np

    values = frame[col].to_numpy(dtype=float)
    bad = ~np.isfinite(values) | (values <= 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{what} '{path}', {frame.attrs.get('rows', ('row',))[0]} {int(frame['row'].iloc[i])}: {col} = {values[i]:g} must be a "
            f"finite number > 0 ({int(bad.sum())} such rows). Fix or drop them."
        )


# -- --holdout EXPR ------------------------------------------------------------------------------


def holdout_mask(frame, holdout: str):
    """Rows the expression ``holdout`` selects (hpadvisor.fitting.holdout's grammar: 'N >= 1e9',
    clauses joined by and)."""
    from hpadvisor.fitting import holdout as grammar

    columns = {c: frame[c].to_numpy() for c in frame.columns
               if c != "row" and getattr(frame[c].dtype, "kind", "O") in "fiu"}
    return grammar.mask(holdout, columns)
