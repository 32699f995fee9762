"""Tabular data in: CSV, TSV, JSONL/JSON and Parquet, with column aliases and ``--map``.

Every reader of user data (training logs, sweeps, ladders, batch studies) goes through
:func:`read_table`, so all of them accept the same formats and give the same messages:
which column is missing, what was found instead, and how to map it; which row holds a
value that is not a number.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from hpadvisor.errors import DataError, InvalidInputError

if TYPE_CHECKING:  # pandas is imported lazily: it is slow to import
    import pandas as pd

SUFFIXES = {
    ".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".txt": "csv",
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".parquet": "parquet", ".pq": "parquet",
}


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB blocks (recorded in law files as the data's identity)."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def normalise(name: str) -> str:
    """Column-name key for alias matching: case, spaces, slashes, dashes and dots folded."""
    return re.sub(r"[\s/\-.]+", "_", str(name).strip().lower())


def parse_map(items: Sequence[str] | None) -> dict[str, str]:
    """``["loss=train/lm_loss", "step=_step"]`` -> {"loss": "train/lm_loss", "step": "_step"}."""
    out: dict[str, str] = {}
    for item in items or ():
        if "=" not in item:
            raise InvalidInputError(f"--map '{item}' must look like canonical=column, e.g. loss=train/lm_loss.")
        key, _, col = item.partition("=")
        if not key.strip() or not col.strip():
            raise InvalidInputError(f"--map '{item}' must look like canonical=column, e.g. loss=train/lm_loss.")
        out[key.strip()] = col.strip()
    return out


def _read_frame(path: Path, kind: str) -> pd.DataFrame:
    import pandas as pd

    try:
        if kind == "csv":
            return pd.read_csv(path, sep=None if path.suffix == ".txt" else ",", engine="c" if path.suffix != ".txt" else "python")
        if kind == "tsv":
            return pd.read_csv(path, sep="\t")
        if kind == "jsonl":
            return pd.read_json(path, lines=True)
        if kind == "json":
            return pd.read_json(path)
        if kind == "parquet":
            try:
                import pyarrow  # noqa: F401
            except ImportError:
                raise DataError(
                    f"'{path}' is Parquet, which needs pyarrow: pip install 'hpadvisor[parquet]'."
                ) from None
            return pd.read_parquet(path)
    except DataError:
        raise
    except pd.errors.EmptyDataError:
        raise DataError(f"'{path}' is empty: expected a header row and data.") from None
    except (pd.errors.ParserError, ValueError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"'{path}' cannot be parsed as {kind.upper()}: {first}.") from None
    except OSError as exc:
        raise DataError(f"'{path}' cannot be read: {exc.strerror or exc}.") from None
    raise DataError(f"'{path}': unknown table kind {kind}.")  # pragma: no cover


def read_table(
    path: str | os.PathLike[str],
    *,
    columns: Mapping[str, Sequence[str]],
    required: Sequence[str],
    mapping: Mapping[str, str] | None = None,
    numeric: Sequence[str] | None = None,
    what: str = "table",
) -> pd.DataFrame:
    """Read ``path`` and return a frame whose canonical columns are named as in ``columns``.

    ``columns`` maps each canonical name to its accepted aliases (the canonical name itself is
    always accepted); ``mapping`` (from ``--map``) names the column explicitly.  ``required``
    columns must be found; ``numeric`` ones (default: all found canonical columns) are converted to
    float, and a cell that is not a number is reported with its row (1-based, header = row 1).
    Other columns are kept under their own names.
    """
    import pandas as pd

    p = Path(path)
    if not p.exists():
        raise DataError(f"{what} '{p}' not found. Check the path.")
    if p.is_dir():
        raise DataError(f"{what} '{p}' is a directory, not a file.")
    kind = SUFFIXES.get(p.suffix.lower())
    if kind is None:
        raise DataError(
            f"{what} '{p}': unknown file type '{p.suffix}'. Use .csv, .tsv, .jsonl, .json or .parquet."
        )
    frame = _read_frame(p, kind)
    if not isinstance(frame, pd.DataFrame) or frame.shape[1] == 0:
        raise DataError(f"{what} '{p}' has no columns.")
    frame.columns = [str(c) for c in frame.columns]
    mapping = dict(mapping or {})
    unknown = [k for k in mapping if k not in columns]
    if unknown:
        raise InvalidInputError(
            f"--map names '{unknown[0]}', which is not a column hpadvisor uses here "
            f"({', '.join(columns)})."
        )
    by_norm: dict[str, str] = {}
    for col in frame.columns:
        by_norm.setdefault(normalise(col), col)
    rename: dict[str, str] = {}
    for canon, aliases in columns.items():
        if canon in mapping:
            col = mapping[canon]
            if col not in frame.columns:
                raise DataError(
                    f"{what} '{p}': --map {canon}={col}, but there is no column '{col}'. "
                    f"Found: {', '.join(frame.columns)}."
                )
            rename[col] = canon
            continue
        for alias in (canon, *aliases):
            col = by_norm.get(normalise(alias))
            if col is not None and col not in rename:
                rename[col] = canon
                break
    found = set(rename.values())
    missing = [c for c in required if c not in found]
    if missing:
        raise DataError(
            f"{what} '{p}' has no {missing[0]} column (accepted names: "
            f"{', '.join([missing[0], *columns[missing[0]]])}). Found: {', '.join(frame.columns)}. "
            f"Use --map {missing[0]}=<column>."
        )
    # Keep other columns, but never let one shadow a canonical name.
    frame = frame.drop(columns=[c for c in frame.columns if c in found and c not in rename])
    frame = frame.rename(columns=rename)
    for canon in numeric if numeric is not None else sorted(found):
        if canon not in frame.columns:
            continue
        col = frame[canon]
        if pd.api.types.is_float_dtype(col.dtype) or pd.api.types.is_integer_dtype(col.dtype):
            frame[canon] = col.astype(float)  # already numbers: nothing to report
            continue
        converted = pd.to_numeric(col, errors="coerce")
        suspect = converted.isna() & col.notna()  # blank cells are missing values, not errors
        bad = suspect.copy()
        if suspect.any():
            bad[suspect] = col[suspect].astype(str).str.strip() != ""
        if bad.any():
            row = int(bad.to_numpy().nonzero()[0][0])
            raise DataError(
                f"{what} '{p}', row {row + 2}: {canon} = {frame[canon].iloc[row]!r} is not a number."
            )
        frame[canon] = converted.astype(float)
    if len(frame) == 0:
        raise DataError(f"{what} '{p}' has a header but no rows.")
    return frame
