"""Which trainer wrote a config: its syntax by file name first, then by the keys it contains.

The file's syntax (Python, a launch script, TOML, JSON, YAML) narrows the trainers to those that
write it (``Trainer.syntaxes``); Python and launch scripts are then told by the syntax alone.
Each trainer has marker keys that the others do not use (``Trainer.markers``: DeepSpeed's
``train_micro_batch_size_per_gpu`` for GPT-NeoX, ``per_device_train_batch_size`` for Hugging Face,
``tokens:`` + ``parallelism:`` sections for nanotron...).  The format with the most markers wins
(ties: its rank for the syntax); none at all is a DataError that lists what was seen and says to
pass the format explicitly, and a runner-up nearly as strong is a DataError too (ambiguous: two
trainers' keys in one file).  Lines of ``--flags`` are a launch script whatever the file's name,
unless the file parses as its extension says (``recommend --emit megatron > megatron.yaml`` writes
a bash array of flags).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hpadvisor.errors import DataError
from hpadvisor.formats.trainer import Trainer


def _hint(trainers: Sequence[Trainer]) -> str:
    return f"Name the format explicitly (`format`: one of {', '.join(t.key for t in trainers)})."


def _keys(data: Mapping[str, Any]) -> set[str]:
    """Top-level keys plus 'section.key' for nested ones, '-' read as '_'."""
    out: set[str] = set()
    for k, v in data.items():
        k = str(k).replace("-", "_")
        out.add(k)
        if isinstance(v, Mapping):
            out.update(f"{k}.{str(kk).replace('-', '_')}" for kk in v)
    return out


def score(data: Any, trainers: Sequence[Trainer]) -> dict[str, int]:
    """Trainer key -> how many of its markers ``data``'s keys hold."""
    if not isinstance(data, Mapping):
        return {}
    keys = _keys(data)
    return {t.key: len(keys & t.markers) for t in trainers}


def _writing(syntax: str, trainers: Sequence[Trainer]) -> list[Trainer]:
    """The trainers that write configs in ``syntax``, by their rank for it."""
    return sorted((t for t in trainers if syntax in t.syntaxes), key=lambda t: t.syntaxes[syntax])


def _only(path: str, syntax: str, trainers: Sequence[Trainer]) -> str:
    """The trainer whose configs in ``syntax`` (python, shell) are told by the syntax alone."""
    found = _writing(syntax, trainers)
    if not found:
        raise DataError(f"{path}: no trainer hpadvisor reads writes its configs as {syntax}. {_hint(trainers)}")
    return found[0].key


def _best(path: str, data: Any, syntax: str, trainers: Sequence[Trainer]) -> str:
    allowed = [t.key for t in _writing(syntax, trainers)]
    scores = score(data, trainers)
    best = max(allowed, key=lambda f: scores.get(f, 0), default="")  # ties: the first by rank
    _unambiguous(path, best, allowed, scores)
    if scores.get(best, 0) == 0:
        if isinstance(data, Mapping):
            seen = ", ".join(sorted(str(k) for k in data)[:8]) or "no keys"
            if {"model_type", "architectures"} & set(map(str, data)):
                raise DataError(f"{path}: this is a model config.json (architecture only). Give it "
                                "with `model_config` and check the TrainingArguments file.")
            raise DataError(f"{path}: cannot tell which trainer this config is for (top-level keys: "
                            f"{seen}). {_hint(trainers)}")
        raise DataError(f"{path}: cannot tell which trainer this config is for: it is not a mapping "
                        f"of settings. {_hint(trainers)}")
    return best


def _unambiguous(path: str, best: str, allowed: Sequence[str], scores: Mapping[str, int]) -> None:
    """A file holding two trainers' keys is refused, not read as one of them with the other's
    settings dropped (a Megatron lr beside HF's learning_rate): the runner-up with at least two
    markers and at least half the winner's."""
    rival = max((f for f in allowed if f != best), key=lambda f: scores.get(f, 0), default="")
    top, second = scores.get(best, 0), scores.get(rival, 0)
    if second >= 2 and 2 * second >= top:
        raise DataError(f"{path}: ambiguous: it holds the keys of two trainers ({best}: {top}, {rival}: {second} "
                        f"of their marker keys). Name the format explicitly (`format` {best} or {rival}), "
                        "or split the file.")


def _flags(text: str) -> bool:
    from hpadvisor.formats.shellargs import has_flag_lines

    return has_flag_lines(text)


def detect(path: str, text: str, trainers: Sequence[Trainer]) -> str:
    """The key of the trainer in ``trainers`` that wrote the config at ``path``: the file's syntax by
    its name and content, then, among the trainers writing that syntax, the one with most markers."""
    low = path.lower()
    if low.endswith(".py"):
        return _only(path, "python", trainers)
    if low.endswith((".sh", ".bash", ".slurm", ".sbatch")) or text.startswith("#!"):
        return _only(path, "shell", trainers)
    # lines of --flags (a launch script, the bash array `recommend --emit megatron` writes) are a
    # launch script whatever the file is called, unless the file parses as its extension says
    for syntax in ("toml", "json"):
        if low.endswith(f".{syntax}"):
            from hpadvisor.io import jsonio

            parse = jsonio.parse_toml if syntax == "toml" else jsonio.parse_json
            try:
                data, _ = parse(text, path)
            except DataError:
                if _flags(text):
                    return _only(path, "shell", trainers)
                raise
            return _best(path, data, syntax, trainers)
    if _flags(text) and not low.endswith((".yaml", ".yml")):
        return _only(path, "shell", trainers)
    from hpadvisor.io import yamlio

    try:
        data, _ = yamlio.loads(text, source=path)
    except DataError:
        if _flags(text):
            return _only(path, "shell", trainers)  # a .yaml of --flags
        if not low.endswith((".yaml", ".yml")) and _looks_like_python(text):
            return _only(path, "python", trainers)
        raise
    if not isinstance(data, Mapping) and _looks_like_python(text):
        return _only(path, "python", trainers)
    if _flags(text) and not (isinstance(data, Mapping) and any(score(data, trainers).values())):
        return _only(path, "shell", trainers)  # a .yaml of --flags
    return _best(path, data, "yaml", trainers)


def _looks_like_python(text: str) -> bool:
    import ast

    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return any(isinstance(n, ast.Assign) for n in tree.body)
