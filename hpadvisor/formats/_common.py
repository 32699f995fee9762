"""What every reader shares: typed field extraction with one-line errors, and normalisation.

A reader fills a :class:`Draft` with what the file states (already in canonical units where the
trainer's unit is unambiguous) plus *pending* values whose conversion needs other settings
(warmup as a fraction of the decay horizon, samples, min lr as a ratio, batch in tokens).
:func:`finalize` then resolves them in a fixed order, recording for each derived value the
fields it came from, so a finding can point at the lines that caused it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from hpadvisor.errors import DataError, InvalidInputError
from hpadvisor.formats.base import CANONICAL, Setting, TrainerConfig

_UNSET = object()


def short(value: Any, limit: int = 60) -> str:
    """repr() of a user value, cut to one short line."""
    text = repr(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class FieldError(InvalidInputError):
    """A field the file states with a value of the wrong type or range (``hpadvisor check`` reports it
    as an error on its line; every other command, as one line and exit 2)."""

    def __init__(self, message: str, *, path: str, fmt: str, field: str, line: int | None,
                 requirement: str, raw: Any) -> None:
        super().__init__(message)
        self.path, self.format, self.field, self.line = path, fmt, field, line
        self.requirement, self.raw = requirement, raw


@dataclass(frozen=True)
class Pending:
    """A stated value whose canonical form needs other settings (see finalize)."""

    kind: str  # warmup_fraction, warmup_samples, train_samples, decay_samples, wsd_decay_samples,
    # decay_fraction, wsd_decay_fraction, min_lr_ratio, global_batch_tokens
    value: float
    field: str
    line: int | None
    raw: Any
    base: str = ""  # warmup_fraction: "decay_steps" or "train_steps"
    rounding: str = "exact"  # exact, ceil, floor, round


class Draft:
    """Settings read from one file, before the unit conversions that need other settings."""

    def __init__(self, path: str, fmt: str) -> None:
        self.path = path
        self.format = fmt
        self.settings: dict[str, Setting] = {}
        self.pending: dict[str, Pending] = {}
        self.notes: list[str] = []
        self.unknown: set[str] = set()  # canonical names set in the file to something unreadable

    # -- writing -------------------------------------------------------------------------------
    def put(self, key: str, value: Any, field: str, line: int | None, raw: Any = _UNSET,
            derived_from: tuple[str, ...] = (), offset: float = 0.0) -> None:
        if key not in CANONICAL:  # pragma: no cover - a reader bug, not user input
            raise KeyError(key)
        self.settings[key] = Setting(value, field, line, value if raw is _UNSET else raw,
                                     tuple(derived_from), offset)

    def default(self, key: str, value: Any, field: str) -> None:
        """The trainer's default for a field the file leaves out (line None, raw None)."""
        if key not in self.settings:
            self.settings[key] = Setting(value, field, None, None, ())

    def later(self, kind: str, value: float, field: str, line: int | None, raw: Any,
              base: str = "", rounding: str = "exact") -> None:
        self.pending[kind] = Pending(kind, value, field, line, raw, base, rounding)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def has(self, key: str) -> bool:
        return key in self.settings

    def val(self, key: str, default: Any = None) -> Any:
        s = self.settings.get(key)
        return default if s is None else s.value

    # -- typed reading ------------------------------------------------------------------------
    def where(self, line: int | None) -> str:
        return f"{self.path}:{line}" if line else self.path

    def bad(self, field: str, line: int | None, requirement: str, raw: Any) -> InvalidInputError:
        return FieldError(
            f"{self.where(line)}: field '{field}' must be {requirement}; got {short(raw)}. "
            "Fix the value in the file.", path=self.path, fmt=self.format, field=field, line=line,
            requirement=requirement, raw=raw,
        )

    def number(self, raw: Any, field: str, line: int | None, kind: str = "float") -> Any:
        """``raw`` as a number of ``kind``: float, pos, nonneg, frac, beta, int, posint, count.

        YAML 1.1 reads ``3e-4`` (no dot) as a string, so numeric strings are accepted.
        Booleans are refused for numbers (``True`` is an int in Python).
        """
        req = {
            "float": "a number", "pos": "a number > 0", "nonneg": "a number >= 0",
            "frac": "a number between 0 and 1", "beta": "a number in [0, 1)",
            "int": "a whole number", "posint": "a whole number >= 1",
            "count": "a whole number >= 0",
        }[kind]
        x: float
        if isinstance(raw, bool) or raw is None:
            raise self.bad(field, line, req, raw)
        if isinstance(raw, int):  # kept exact; past 2**62 a float (inf beyond float range, refused below)
            x = raw if abs(raw) <= 2**62 else float(Decimal(raw))
        elif isinstance(raw, float):
            x = raw
        elif isinstance(raw, str):
            try:
                x = float(raw.strip().replace("_", ""))
            except ValueError:
                raise self.bad(field, line, req, raw) from None
        else:
            raise self.bad(field, line, req, raw)
        if not math.isfinite(x):
            raise self.bad(field, line, req, raw)
        if kind in ("int", "posint", "count"):
            if x != int(x):
                raise self.bad(field, line, req, raw)
            if abs(x) > 2**62:
                raise self.bad(field, line, f"{req} below 2**62", raw)
            x = int(x)
            if (kind == "posint" and x < 1) or (kind == "count" and x < 0):
                raise self.bad(field, line, req, raw)
            return x
        x = float(x)
        ok = {
            "float": True, "pos": x > 0, "nonneg": x >= 0, "frac": 0 <= x <= 1,
            "beta": 0 <= x < 1,
        }[kind]
        if not ok:
            raise self.bad(field, line, req, raw)
        return x

    def boolean(self, raw: Any, field: str, line: int | None) -> bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in ("true", "false", "yes", "no"):
            return raw.strip().lower() in ("true", "yes")
        if isinstance(raw, int) and raw in (0, 1):
            return bool(raw)
        raise self.bad(field, line, "true or false", raw)

    def text(self, raw: Any, field: str, line: int | None) -> str:
        if not isinstance(raw, str) or not raw.strip():
            raise self.bad(field, line, "a non-empty string", raw)
        return raw.strip()

    def choice(self, raw: Any, field: str, line: int | None, table: Mapping[str, str]) -> str:
        """Map a trainer's name for something (schedule, decay style) to the canonical one."""
        word = self.text(raw, field, line)
        key = word.lower().replace("_", "-")
        if key not in table:
            raise self.bad(field, line, "one of " + ", ".join(sorted(table)), raw)
        return table[key]


# ------------------------------------------------------------------------------------------------
# Normalisation.


def _round(x: float, how: str) -> float:
    if how == "ceil":
        return math.ceil(x)
    if how == "floor":
        return math.floor(x)
    if how == "round":
        return round(x)
    # "exact": a whole number stays an int; float noise from a fraction x horizon
    # (0.01 x 320000 = 3200.0000000000005) is not a fractional step.
    r = round(x)
    return r if abs(x - r) <= 1e-9 * max(1.0, abs(x)) else x


def _resolve_batch(d: Draft) -> None:
    """global = micro x accumulation x data-parallel; fill whichever one is missing."""
    s = d.settings
    if "global_batch_tokens" in d.pending and "global_batch_seqs" not in s:
        p = d.pending.pop("global_batch_tokens")
        seq = d.val("seq_len")
        if seq:
            seqs = p.value / seq
            d.put("global_batch_seqs", _round(seqs, "exact"), p.field, p.line, p.raw,
                  (p.field, s["seq_len"].field))
            if not float(seqs).is_integer():
                d.note(f"{p.field} = {p.raw} tokens is not a whole number of {seq}-token sequences.")
        else:
            d.note(f"{p.field} counts tokens but the sequence length is unknown; "
                   "global batch in sequences left undetermined.")
    parts = ("micro_batch_seqs", "grad_accum", "data_parallel")
    known = {k: s[k] for k in parts if k in s}
    fields = tuple(x.field for x in known.values())
    g = s.get("global_batch_seqs")
    if g is None:
        if len(known) == 3:
            value = math.prod(x.value for x in known.values())
            d.put("global_batch_seqs", value, " x ".join(fields), None, None, fields)
        return
    if len(known) == 3:
        product = math.prod(x.value for x in known.values())
        ok = product == g.value
        d.put("batch_arithmetic_ok", ok, g.field, g.line, None, (g.field,) + fields)
        if not ok:
            d.note(f"stated global batch {g.value} != {' x '.join(str(x.value) for x in known.values())}"
                   f" = {product} ({' x '.join(fields)}).")
        return
    if len(known) == 2:
        missing = next(k for k in parts if k not in known)
        product = math.prod(x.value for x in known.values())
        if product <= 0:
            return
        q = g.value / product
        if float(q).is_integer() and q >= 1:
            d.put(missing, int(q), f"{g.field} / ({' x '.join(fields)})", None, None,
                  (g.field,) + fields)
        else:
            d.put("batch_arithmetic_ok", False, g.field, g.line, None, (g.field,) + fields)
            d.note(f"global batch {g.value} is not a whole multiple of "
                   f"{' x '.join(str(x.value) for x in known.values())} ({' x '.join(fields)}).")


def _per_batch(d: Draft, kind: str, key: str) -> None:
    p = d.pending.get(kind)
    if p is None or d.has(key):
        return
    g = d.settings.get("global_batch_seqs")
    if g is None:
        d.note(f"{p.field} is given in samples but the global batch is unknown; "
               f"{key} left undetermined.")
        return
    del d.pending[kind]
    d.put(key, _round(p.value / g.value, p.rounding), p.field, p.line, p.raw, (p.field, g.field))


def finalize(d: Draft) -> TrainerConfig:
    """Resolve pending conversions in dependency order and freeze the result."""
    s = d.settings
    _resolve_batch(d)
    for kind, key in (("train_samples", "train_steps"), ("decay_samples", "decay_steps"),
                      ("wsd_decay_samples", "wsd_decay_steps"), ("warmup_samples", "warmup_steps")):
        _per_batch(d, kind, key)
    # Decay horizon as a fraction of the run (NeoX lr_decay_fraction: floor(train_iters * f)).
    p = d.pending.pop("decay_fraction", None)
    if p is not None and not d.has("decay_steps") and d.has("train_steps"):
        t = s["train_steps"]
        d.put("decay_steps", _round(p.value * t.value, p.rounding), p.field, p.line, p.raw,
              (p.field, t.field))
    # Default horizon: the lr reaches its floor at the last step of the run.
    if not d.has("decay_steps") and d.has("train_steps") and "decay_steps" not in d.unknown:
        t = s["train_steps"]
        d.put("decay_steps", t.value, t.field, None, None, (t.field,))
    p = d.pending.pop("warmup_fraction", None)
    if p is not None and not d.has("warmup_steps"):
        base = s.get(p.base)
        if base is not None:
            d.put("warmup_steps", _round(p.value * base.value, p.rounding), p.field, p.line, p.raw,
                  (p.field, base.field))
        else:
            d.note(f"{p.field} is a fraction of the run but the run length is unknown; "
                   "warmup in steps left undetermined.")
    p = d.pending.pop("wsd_stable_steps", None)  # HF WSD: the decay ends at warmup + stable + decay
    if p is not None and d.has("warmup_steps") and d.has("wsd_decay_steps"):
        w, k = s["warmup_steps"], s["wsd_decay_steps"]
        d.put("decay_steps", w.value + p.value + k.value, k.field, k.line, k.raw, (w.field, p.field, k.field),
              offset=w.value + p.value)
    elif p is not None:
        d.note(f"{p.field}: the warmup or the decay length is unknown, so where the decay ends is too.")
    p = d.pending.pop("wsd_decay_fraction", None)
    if p is not None and not d.has("wsd_decay_steps") and d.has("train_steps"):
        t = s["train_steps"]
        d.put("wsd_decay_steps", _round(p.value * t.value, p.rounding), p.field, p.line, p.raw,
              (p.field, t.field))
    p = d.pending.pop("min_lr_ratio", None)
    if p is not None and not d.has("min_lr") and d.has("lr"):
        lr = s["lr"]
        d.put("min_lr", p.value * lr.value, p.field, p.line, p.raw, (p.field, lr.field))
    if not d.has("tokens") and all(d.has(k) for k in ("train_steps", "global_batch_seqs", "seq_len")):
        fields = tuple(s[k].field for k in ("train_steps", "global_batch_seqs", "seq_len"))
        value = s["train_steps"].value * s["global_batch_seqs"].value * s["seq_len"].value
        d.put("tokens", value, " x ".join(fields), None, None, fields)
    for p in d.pending.values():
        d.note(f"{p.field} could not be converted: the settings it depends on are unknown.")
    return TrainerConfig(d.path, d.format, dict(s), tuple(d.notes), frozenset(d.unknown))


# ------------------------------------------------------------------------------------------------
# Model config.json (Hugging Face) and caller overrides.

#: Hugging Face model_type values whose MLP is gated (three matrices: gate, up, down).
_GATED = {"llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "gemma",
          "gemma2", "gemma3_text", "olmo", "olmo2", "olmoe", "deepseek_v2", "deepseek_v3", "phi3",
          "granite", "cohere", "internlm2", "yi", "smollm3"}

#: tie_word_embeddings when config.json leaves it out: each transformers config class's own default
#: (PretrainedConfig's is True, but LlamaConfig, MistralConfig, Qwen2Config, Olmo2Config... set False).
_UNTIED_BY_DEFAULT = {"llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "olmo",
                      "olmo2", "olmoe", "deepseek_v2", "deepseek_v3", "phi3", "phi", "granite",
                      "internlm2", "gpt_neox", "stablelm"}
_TIED_BY_DEFAULT = {"gpt2", "gemma", "gemma2", "gemma3_text", "cohere", "starcoder2", "smollm3", "opt",
                    "falcon", "gpt_bigcode"}

#: config.json key (first found wins) -> canonical architecture name.
_HF_ARCH = (
    ("d_model", ("hidden_size", "n_embd", "d_model")),
    ("n_layers", ("num_hidden_layers", "n_layer", "num_layers")),
    ("n_heads", ("num_attention_heads", "n_head")),
    ("n_kv_heads", ("num_key_value_heads", "n_head_kv")),
    ("ffn_hidden", ("intermediate_size", "n_inner", "ffn_dim")),
    ("vocab_size", ("vocab_size",)),
    ("n_experts", ("num_local_experts", "num_experts", "n_routed_experts")),
    ("top_k", ("num_experts_per_tok",)),
    # Qwen-MoE and DeepSeek: the experts' width (their intermediate_size is the dense MLP's);
    # OLMoE and Mixtral use intermediate_size for the experts.
    ("moe_ffn_hidden", ("moe_intermediate_size",)),
)


def read_hf_model_config(path: str, into: Draft) -> None:
    """Fill architecture settings from an HF ``config.json``: those the trainer config does not state
    (unset, or only the trainer's default)."""
    from hpadvisor.io.jsonio import load_json

    data, lines = load_json(path, what="model config")
    if not isinstance(data, dict):
        raise DataError(f"{path}: a model config.json must be a JSON object of keys, "
                        f"not {type(data).__name__}.")
    sub = Draft(path, "hf")
    for key, names in _HF_ARCH:
        for name in names:
            if name in data and data[name] is not None:
                sub.put(key, sub.number(data[name], name, lines.get((name,)), "posint"), name,
                        lines.get((name,)), data[name])
                break
    _hf_shared_experts(data, lines, sub, into, path)
    model_type = data.get("model_type") if isinstance(data.get("model_type"), str) else None
    if "tie_word_embeddings" in data:
        line = lines.get(("tie_word_embeddings",))
        sub.put("tied_embeddings", sub.boolean(data["tie_word_embeddings"], "tie_word_embeddings",
                                               line), "tie_word_embeddings", line, data["tie_word_embeddings"])
    else:  # the default of the model type's config class
        field = f"tie_word_embeddings (default of model_type {model_type})"
        if model_type in _UNTIED_BY_DEFAULT:
            sub.default("tied_embeddings", False, field)
        elif model_type in _TIED_BY_DEFAULT:
            sub.default("tied_embeddings", True, field)
        else:
            sub.default("tied_embeddings", True, "tie_word_embeddings (PretrainedConfig's default)")
            if "tied_embeddings" not in into.settings:
                into.note(f"{path}: tie_word_embeddings not set and model_type {model_type!r} not known "
                          "here: assumed tied (PretrainedConfig's default); set it in the file if it is untied.")
    act = data.get("hidden_act", data.get("activation_function"))
    if model_type in _GATED:
        sub.put("swiglu", True, "model_type", lines.get(("model_type",)), model_type)
    elif isinstance(act, str):
        line = lines.get(("hidden_act",)) or lines.get(("activation_function",))
        sub.put("swiglu", act.lower() in ("silu", "swiglu", "swish"), "hidden_act", line, act)
    for key, setting in sub.settings.items():
        mine = into.settings.get(key)
        # what the config states wins; a trainer's default (nanoGPT's 12 x 768 GPT-2) gives way
        if mine is None or (mine.line is None and mine.raw is None and not mine.derived_from):
            into.settings[key] = setting
    into.note(f"architecture from {path}.")


def _hf_shared_experts(data: dict, lines: dict, sub: Draft, into: Draft, path: str) -> None:
    """Shared experts: DeepSeek's ``n_shared_experts`` (each of the experts' width), Qwen-MoE's
    ``shared_expert_intermediate_size`` (their total width)."""
    if data.get("n_shared_experts") is not None:
        line = lines.get(("n_shared_experts",))
        sub.put("n_shared_experts", sub.number(data["n_shared_experts"], "n_shared_experts", line, "count"),
                "n_shared_experts", line, data["n_shared_experts"])
    elif data.get("shared_expert_intermediate_size") is not None and sub.has("n_experts"):
        line = lines.get(("shared_expert_intermediate_size",))
        total = sub.number(data["shared_expert_intermediate_size"], "shared_expert_intermediate_size", line, "count")
        width = sub.val("moe_ffn_hidden", sub.val("ffn_hidden", 0))
        if total and width:
            n = max(1, round(total / width))
            sub.put("n_shared_experts", n, "shared_expert_intermediate_size", line, total,
                    derived_from=("shared_expert_intermediate_size", "moe_intermediate_size"))
            if total % width:
                into.note(f"{path}: shared_expert_intermediate_size {total} is not a multiple of the expert "
                          f"width {width}: counted as {n} shared experts.")
    k = data.get("first_k_dense_replace")
    if isinstance(k, int) and k > 0 and sub.has("n_experts"):
        into.note(f"{path}: the first {k} layers are dense (first_k_dense_replace); counted as MoE layers "
                  "like the others (parameters off by a few percent).")


def apply_overrides(d: Draft, overrides: Mapping[str, Any]) -> None:
    """Caller-supplied canonical values (data_parallel from --data-parallel) replace the file's."""
    for key, value in overrides.items():
        if value is None:
            continue
        if key not in CANONICAL:
            from hpadvisor.errors import did_you_mean

            raise InvalidInputError(f"unknown override '{key}'.{did_you_mean(key, CANONICAL)}")
        d.put(key, value, f"--{key.replace('_', '-')}", None, value)  # the flag that set it


# ------------------------------------------------------------------------------------------------
# Snippet writers.


def num_text(x: Any) -> str:
    """A number as text that reads back to the same value (repr of floats round-trips)."""
    if isinstance(x, bool):  # pragma: no cover - callers pass numbers
        raise TypeError(x)
    if isinstance(x, int) or (isinstance(x, float) and x.is_integer() and abs(x) < 2**53):
        return str(int(x))
    return repr(float(x))


def whole(values: Mapping[str, Any], key: str, fmt: str) -> int:
    """``values[key]`` as an int, or InvalidInputError: the trainer takes whole steps/sequences."""
    x = values[key]
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x) or x != int(x):
        raise InvalidInputError(f"{fmt} needs a whole number for {key}; got {short(x)}.")
    return int(x)


def unsupported(fmt: str, key: str, value: Any, why: str) -> InvalidInputError:
    return InvalidInputError(f"{fmt} cannot express {key} = {short(value)}: {why}.")


def complete_batch(values: Mapping[str, Any], fmt: str) -> dict[str, Any]:
    """Fill the one missing factor of global = micro x accumulation x data-parallel."""
    v = dict(values)
    parts = ("micro_batch_seqs", "grad_accum", "data_parallel")
    have = [k for k in parts if v.get(k) is not None]
    if v.get("global_batch_seqs") is None:
        if len(have) == 3:
            v["global_batch_seqs"] = math.prod(whole(v, k, fmt) for k in parts)
        return v
    g = whole(v, "global_batch_seqs", fmt)
    if len(have) == 2:
        missing = next(k for k in parts if k not in have)
        prod = math.prod(whole(v, k, fmt) for k in have)
        if prod <= 0 or g % prod:
            raise InvalidInputError(f"{fmt}: global batch {g} is not a whole multiple of "
                                    f"{' x '.join(str(v[k]) for k in have)} ({' x '.join(have)}).")
        v[missing] = g // prod
    elif len(have) == 3 and math.prod(whole(v, k, fmt) for k in parts) != g:
        raise InvalidInputError(f"{fmt}: global batch {g} != micro x accumulation x data-parallel "
                                f"= {' x '.join(str(v[k]) for k in parts)}.")
    return v


def complete_steps(values: Mapping[str, Any]) -> dict[str, Any]:
    """train_steps from tokens / (global batch x seq_len) when only the token count is given."""
    v = dict(values)
    if v.get("train_steps") is None and all(v.get(k) for k in ("tokens", "global_batch_seqs", "seq_len")):
        steps = v["tokens"] / (v["global_batch_seqs"] * v["seq_len"])
        v["train_steps"] = math.ceil(steps - 1e-9)
    return v


def header(fmt: str, values: Mapping[str, Any], written: set[str], comment: str = "#") -> str:
    left = sorted(k for k, x in values.items() if x is not None and k not in written)
    text = f"{comment} {fmt} settings written by hpadvisor (read back by `hpadvisor check`).\n"
    if left:
        text += f"{comment} not expressible in this format, left out: {', '.join(left)}.\n"
    return text
