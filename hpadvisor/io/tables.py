"""Tabular data in: CSV, TSV, JSONL/JSON and Parquet, with column aliases and ``--map``.

Every reader of user data (training logs, sweeps, ladders, batch studies) goes through
:func:`read_table`, so all of them accept the same formats and give the same messages:
which column is missing, what was found instead, and how to map it; which row holds a
value that is not a number.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from hpadvisor.errors import DataError, InvalidInputError
from hpadvisor.io.inputs import MAX_DIGITS, is_digit_limit

if TYPE_CHECKING:  # pandas is imported lazily: it is slow to import
    import numpy as np
    import pandas as pd

SUFFIXES = {
    ".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".txt": "csv",
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".parquet": "parquet", ".pq": "parquet",
}


def is_event_file(path: Path) -> bool:
    """A TensorBoard event file (``events.out.tfevents.<time>.<host>...``), by its name."""
    return ".tfevents." in path.name


def event_files(folder: Path) -> list[Path]:
    """The TensorBoard event files directly in ``folder``, by name."""
    return sorted(f for f in folder.iterdir() if f.is_file() and is_event_file(f))


def normalise(name: str) -> str:
    """Column-name key for alias matching: case, spaces, slashes, dashes and dots folded."""
    return re.sub(r"[\s/\-.]+", "_", str(name).strip().lower())


def row_label(frame: pd.DataFrame, i: int) -> str:
    """How an error names the ``i``-th data row (0-based) of a table read by :func:`read_table`:
    ``row 2`` is a CSV's first data row (the header is row 1), ``record 1`` a JSON/JSONL/Parquet one."""
    word, first = frame.attrs.get("rows", ("row", 2))
    return f"{word} {i + first}"


def parse_map(items: Sequence[str] | None) -> dict[str, str]:
    """``["loss=train/lm_loss", "step=_step"]`` -> {"loss": "train/lm_loss", "step": "_step"}."""
    out: dict[str, str] = {}
    for item in items or ():
        if "=" not in item:
            raise InvalidInputError(f"`mapping` '{item}' must look like canonical=column, e.g. loss=train/lm_loss.")
        key, _, col = item.partition("=")
        if not key.strip() or not col.strip():
            raise InvalidInputError(f"`mapping` '{item}' must look like canonical=column, e.g. loss=train/lm_loss.")
        out[key.strip()] = col.strip()
    return out


# A numeric cell can be empty in two ways that pandas reads alike as NaN: "no value here" (a blank,
# NA, null: the run was not evaluated at that step) and "the value was not a number" (nan: what a
# float loss becomes when a run diverges).  read_table keeps them apart: the first are missing
# values, the second are NaN cells, listed per column in ``frame.attrs["nan_cells"]``.
NAN_WORDS = frozenset({"nan", "-nan", "+nan", "1.#qnan", "-1.#qnan", "1.#ind", "-1.#ind"})
MISSING_WORDS = frozenset({"", "na", "n/a", "#n/a", "#n/a n/a", "#na", "null", "none", "<na>"})


def _cut(text: str, most: int = 40) -> str:
    """A value quoted in a message, at most ``most`` characters (a cell may hold thousands)."""
    return text if len(text) <= most else text[: most - 3] + "..."


def _json_why(exc: ValueError) -> str:
    """Why :mod:`json` refused a text: its message and line, or a number too long to read."""
    msg, line = getattr(exc, "msg", None), getattr(exc, "lineno", None)
    if msg is None:
        return f"a whole number has more than {MAX_DIGITS:,} digits" if is_digit_limit(exc) else str(exc)
    return f"{msg}, line {line}"


def _json_text(text: str, lines: bool, path: Path) -> str:
    """The JSON text with each NaN literal as the string "nan": pandas' reader would make JSON's
    NaN and null the same NaN (only texts that contain a NaN are rewritten).  Rows that are not
    objects of column: value are refused here, by line, before pandas reads them."""
    import json
    import math

    if lines:
        for i, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    row = json.loads(line)
                except ValueError as exc:
                    raise DataError(f"'{path}', line {i}: not JSON ({_json_why(exc)}).") from None
                if not isinstance(row, dict):
                    raise DataError(f"'{path}', line {i}: a JSON Lines row must be an object of "
                                    f"column: value, not a {type(row).__name__}.")
    else:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise DataError(f"'{path}' is not JSON ({_json_why(exc)}).") from None
        records = isinstance(data, list) and all(isinstance(r, dict) for r in data)
        columns = isinstance(data, dict) and all(isinstance(c, (list, dict)) for c in data.values())
        if not (records or columns):
            raise DataError(f"'{path}': a JSON table must be a list of objects (one per row) or an object "
                            "of columns (column: list of values).")
    if "NaN" not in text:
        return text

    def mark(v):
        if isinstance(v, float) and math.isnan(v):
            return "nan"
        if isinstance(v, dict):
            return {k: mark(x) for k, x in v.items()}
        if isinstance(v, list):
            return [mark(x) for x in v]
        return v

    if lines:
        return "\n".join(json.dumps(mark(json.loads(line))) for line in text.splitlines() if line.strip())
    return json.dumps(mark(json.loads(text)))


def _read_frame(path: Path, kind: str, what: str = "table") -> tuple[pd.DataFrame, str]:
    """The file as a frame, and the SHA-256 of the very bytes parsed (read once: a log that is
    still being written cannot differ between the data and its recorded digest)."""
    import csv
    import hashlib
    import io

    import pandas as pd

    from hpadvisor.io.inputs import TABLE_LIMIT, read_input_bytes

    blanks = {"keep_default_na": False, "na_values": [""]}  # NA words are sorted out per column

    try:
        if kind == "tfevents":  # read by TensorBoard's own reader, file by file
            return _tfevents(path, what)
        data = read_input_bytes(path, what=what, limit=TABLE_LIMIT)
        digest = hashlib.sha256(data).hexdigest()
        # low_memory=False: a column read in chunks can come out part float, part str ("nan")
        if kind == "csv" and path.suffix == ".txt":
            return pd.read_csv(io.BytesIO(data), sep=None, engine="python", **blanks), digest
        if kind in ("csv", "tsv"):
            return pd.read_csv(io.BytesIO(data), sep="," if kind == "csv" else "\t", low_memory=False,
                               **blanks), digest
        if kind in ("jsonl", "json"):
            text = _json_text(data.decode("utf-8"), lines=kind == "jsonl", path=path)
            # a column holding "nan" strings must reach read_table as strings: no dtype guessing then
            marked = '"nan"' in text
            return pd.read_json(io.StringIO(text), lines=kind == "jsonl", dtype=False if marked else None), digest
        if kind == "parquet":
            try:
                import pyarrow  # noqa: F401
            except ImportError:
                raise DataError(
                    f"'{path}' is Parquet, which needs pyarrow: pip install 'hpadvisor[parquet]'."
                ) from None
            return _parquet(data), digest
    except DataError:
        raise
    except pd.errors.EmptyDataError:
        raise DataError(f"'{path}' is empty: expected a header row and data.") from None
    except RecursionError:
        raise DataError(f"'{path}' cannot be parsed as {kind.upper()}: it is nested too deeply.") from None
    except (pd.errors.ParserError, ValueError, TypeError, UnicodeDecodeError, csv.Error) as exc:  # csv: a .txt's
        # delimiter that cannot be sniffed
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"'{path}' cannot be parsed as {kind.upper()}: {first}.") from None
    except OSError as exc:
        raise DataError(f"'{path}' cannot be read: {exc.strerror or exc}.") from None
    raise DataError(f"'{path}': unknown table kind {kind}.")  # pragma: no cover


def _tfevents(path: Path, what: str = "log") -> tuple[pd.DataFrame, str]:
    """TensorBoard scalars (an event file, or a log directory's; PyTorch's scalar summaries and TF2's
    one-number tensor summaries) as a frame: a ``step`` column and one column per tag (blank where
    a tag was not logged); a tag logged twice at a step keeps its last value, as TensorBoard shows it.
    Also the digest of the bytes read: the event files are copied once (hashed on the way) and
    TensorBoard's reader reads the copy, so a run still writing its log cannot make them differ."""
    import hashlib
    import tempfile

    import pandas as pd

    try:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    except ImportError:
        raise DataError(f"'{path}' is a TensorBoard log, which needs tensorboard: "
                        "pip install 'hpadvisor[tensorboard]'.") from None
    try:
        import numpy as np
        from tensorboard.util.tensor_util import make_ndarray

        from hpadvisor.io.inputs import TABLE_LIMIT, read_input_bytes

        h = hashlib.sha256()
        total = 0
        cut: list[str] = []
        with tempfile.TemporaryDirectory(prefix="hpadvisor-tb-") as tmp:
            for f in event_files(path) if path.is_dir() else [path]:
                data = read_input_bytes(f, what=what, limit=TABLE_LIMIT)
                total += len(data)
                whole, rest = _tfrecords(data)
                if rest:  # TensorBoard's reader stops there without a word
                    cut.append(f"'{f.name}' ends in a cut-off record ({rest:,} bytes after its {whole:,} whole records): "
                               "read up to it; the file is truncated or still being written, so later points are missing")
                if total > TABLE_LIMIT:
                    raise DataError(f"{what} '{path}': its event files hold more than {TABLE_LIMIT // 1_000_000} MB "
                                    "together, the most hpadvisor reads from a log: give one run's directory.")
                h.update(data)
                (Path(tmp) / f.name).write_bytes(data)
            target = tmp if path.is_dir() else str(Path(tmp) / path.name)
            acc = EventAccumulator(target, size_guidance={"scalars": 0, "tensors": 0})
            acc.Reload()
        tags = acc.Tags()
        columns = {tag: {int(e.step): float(e.value) for e in acc.Scalars(tag)} for tag in tags.get("scalars", [])}
        for tag in tags.get("tensors", []):  # TF2-style summaries (tf.summary.scalar): one-number tensors
            values = {int(e.step): make_ndarray(e.tensor_proto) for e in acc.Tensors(tag)}
            if values and all(np.size(v) == 1 and np.issubdtype(np.asarray(v).dtype, np.number)
                              for v in values.values()):
                columns.setdefault(tag, {k: float(np.asarray(v).reshape(-1)[0]) for k, v in values.items()})
    except DataError:
        raise
    except OSError as exc:
        raise DataError(f"'{path}' cannot be read: {exc.strerror or exc}.") from None
    except Exception as exc:  # noqa: BLE001 -- the reader's own errors (truncated records, bad protobuf)
        raise DataError(f"'{path}' cannot be read as TensorBoard events: {type(exc).__name__}.") from None
    if not columns:
        raise DataError(f"'{path}' holds no TensorBoard scalars (a loss logged with add_scalar is needed).")
    columns.pop("step", None)  # a step counter logged as a scalar: the event's own step is the step
    if not columns:
        raise DataError(f"'{path}' holds no TensorBoard scalars but a step counter.")
    frame = pd.DataFrame(columns).sort_index().reset_index(names="step")
    frame.attrs["read_notes"] = cut
    return frame, h.hexdigest()


def _tfrecords(data: bytes) -> tuple[int, int]:
    """(whole records, bytes after the last whole one) of a TFRecord file: each record is a
    little-endian uint64 length, 4 bytes of its CRC, the data, 4 bytes of the data's CRC."""
    import struct

    at = whole = 0
    while at + 12 <= len(data):
        end = at + 12 + struct.unpack_from("<Q", data, at)[0] + 4
        if end > len(data):
            break
        at, whole = end, whole + 1
    return whole, len(data) - at


def _parquet(data: bytes) -> pd.DataFrame:
    """A Parquet file's bytes as a frame, NaN values (not nulls) of float columns as the string "nan"."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(pa.BufferReader(data))
    frame = table.to_pandas()
    for name, column in zip(table.column_names, table.columns, strict=True):
        if pa.types.is_floating(column.type):
            nan = np.asarray(pc.fill_null(pc.is_nan(column), False))
            if nan.any():
                frame[name] = frame[name].astype(object).where(~nan, "nan")
    return frame


def _table_kind(p: Path, what: str) -> str:
    """The reader for ``p``: by suffix, or tfevents for an event file or a directory of them."""
    if p.is_dir():
        if not event_files(p):
            raise DataError(f"{what} '{p}' is a directory, not a file (nor a TensorBoard log directory).")
        return "tfevents"
    if is_event_file(p):
        return "tfevents"
    kind = SUFFIXES.get(p.suffix.lower())
    if kind is None:
        raise DataError(
            f"{what} '{p}': unknown file type '{p.suffix}'. Use .csv, .tsv, .jsonl, .json, .parquet "
            "or a TensorBoard event file."
        )
    return kind


def _renames(frame: pd.DataFrame, columns: Mapping[str, Sequence[str]], required: Sequence[str],
             mapping: Mapping[str, str], p: Path, what: str) -> dict[str, str]:
    """column as read -> canonical name, by ``mapping`` first, else the first alias found;
    refused when a mapped column is absent or a required one is not found."""
    unknown = [k for k in mapping if k not in columns]
    if unknown:
        raise InvalidInputError(
            f"`mapping` names '{unknown[0]}', which is not a column hpadvisor uses here "
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
                    f"{what} '{p}': `mapping` {canon}={col}, but there is no column '{col}'. "
                    f"Found: {', '.join(frame.columns)}."
                )
            rename[col] = canon
            continue
        for alias in (canon, *aliases):
            found_col = by_norm.get(normalise(alias))
            if found_col is not None and found_col not in rename:
                rename[found_col] = canon
                break
    found = set(rename.values())
    missing = [c for c in required if c not in found]
    if missing:
        raise DataError(
            f"{what} '{p}' has no {missing[0]} column (accepted names: "
            f"{', '.join([missing[0], *columns[missing[0]]])}). Found: {', '.join(frame.columns)}. "
            f"Use `mapping` {missing[0]}=<column>."
        )
    return rename


def _numbers(frame: pd.DataFrame, names: Sequence[str], p: Path, what: str) -> dict[str, np.ndarray]:
    """Convert the columns ``names`` to float in place; a cell that is not a number is refused
    with its row.  Returns the cells that say NaN (not missing), per column."""
    import pandas as pd

    nan_cells: dict[str, np.ndarray] = {}
    for canon in names:
        if canon not in frame.columns:
            continue
        col = frame[canon]
        if pd.api.types.is_float_dtype(col.dtype) or pd.api.types.is_integer_dtype(col.dtype):
            frame[canon] = col.astype(float)  # already numbers: nothing to report
            continue
        words = col.astype(str).str.strip().str.lower()
        missing = col.isna() | words.isin(MISSING_WORDS)
        nan = ~missing & words.isin(NAN_WORDS)
        converted = pd.to_numeric(col.where(~(missing | nan)), errors="coerce")
        bad = converted.isna() & ~missing & ~nan
        if bad.any():
            row = int(bad.to_numpy().nonzero()[0][0])
            raise DataError(
                f"{what} '{p}', {row_label(frame, row)}: {canon} = {_cut(repr(frame[canon].iloc[row]))} is not a number."
            )
        frame[canon] = converted.astype(float)
        if nan.any():
            nan_cells[canon] = nan.to_numpy(dtype=bool)
    return nan_cells


def read_table(
    path: str | os.PathLike[str],
    *,
    columns: Mapping[str, Sequence[str]],
    required: Sequence[str],
    mapping: Mapping[str, str] | None = None,
    numeric: Sequence[str] | None = None,
    what: str = "table",
    reshape: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """Read ``path`` and return a frame whose canonical columns are named as in ``columns``.

    ``columns`` maps each canonical name to its accepted aliases (the canonical name itself is
    always accepted); ``mapping`` (from ``--map``) names the column explicitly.  ``required``
    columns must be found; ``numeric`` ones (default: all found canonical columns) are converted to
    float, and a cell that is not a number is reported with its row (1-based, header = row 1).
    Other columns are kept under their own names.  ``reshape`` may turn the frame as read into
    the long form first (a W&B chart export with one column per run, for instance); it runs
    before ``mapping`` is read, so it may take the entries it has used out of it.
    ``frame.attrs`` carries ``sha256`` (of the bytes parsed: record it, do not hash the file again),
    ``column_of`` (canonical name -> the column read for it) and ``nan_cells``.
    """
    import pandas as pd

    from hpadvisor.io.inputs import TABLE_LIMIT, check_input

    p = check_input(path, what=what, limit=TABLE_LIMIT, directory=True)  # before any byte is read
    kind = _table_kind(p, what)
    frame, digest = _read_frame(p, kind, what)
    read_notes = list(frame.attrs.get("read_notes", []))  # what the reader had to say (a cut-off event file)
    if not isinstance(frame, pd.DataFrame) or frame.shape[1] == 0:
        raise DataError(f"{what} '{p}' has no columns.")
    frame.columns = [str(c) for c in frame.columns]
    if reshape is not None:
        frame = reshape(frame)
    frame.attrs["rows"] = ("row", 2) if kind in ("csv", "tsv") else ("record", 1)  # how errors name a row
    rename = _renames(frame, columns, required, dict(mapping or {}), p, what)
    found = set(rename.values())
    # Keep other columns, but never let one shadow a canonical name.
    frame = frame.drop(columns=[c for c in frame.columns if c in found and c not in rename])
    frame = frame.rename(columns=rename)
    nan_cells = _numbers(frame, numeric if numeric is not None else sorted(found), p, what)
    if len(frame) == 0:
        raise DataError(f"{what} '{p}' has a header but no rows.")
    frame.attrs["nan_cells"] = nan_cells
    frame.attrs["sha256"] = digest  # of the bytes parsed
    frame.attrs["column_of"] = {canon: col for col, canon in rename.items()}  # canonical -> as read
    frame.attrs["read_notes"] = read_notes
    return frame
