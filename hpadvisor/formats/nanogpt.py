"""nanoGPT: a Python override file of ``key = value`` lines, read as TEXT and never executed.

The file is parsed with :func:`ast.parse`; each top-level ``name = <expression>`` is evaluated by
a tiny interpreter that knows only literals, + - * / // % ** on numbers (with size limits),
tuples/lists, and names assigned earlier in the same file (``lr_decay_iters = max_iters``).
Anything else -- imports, calls, attribute access, comprehensions, f-strings -- is not run; the
assignment is skipped and a note says so.  No exec, eval, compile or import of the file.

Field names and defaults are those of nanoGPT's ``train.py`` (which the override file modifies):
learning_rate 6e-4, min_lr 6e-5 (absolute), warmup_iters 2000, lr_decay_iters 600000,
max_iters 600000, decay_lr True (False: constant lr, without warmup), weight_decay 0.1, beta1 0.9, beta2 0.95,
grad_clip 1.0, batch_size 12 (per device), block_size 1024, gradient_accumulation_steps 40,
n_layer 12, n_head 12, n_embd 768 (GPT-2 small).

Unit trap: nanoGPT's ``gradient_accumulation_steps`` is the TOTAL over all devices (train.py
divides it by the world size), so the global batch is ``batch_size x
gradient_accumulation_steps`` sequences whatever the device count.  configure_optimizers decays
every parameter with 2 or more dimensions (embeddings included) and no norm gains or biases;
the token embedding and the output layer are tied.  The vocabulary is not a train.py setting: it
is the dataset's ``meta.pkl`` ``vocab_size`` when there is one, else 50304 (GPT-2's 50257 padded);
a ``vocab_size`` line in an override file is never read by train.py.
"""

from __future__ import annotations

import ast
import math
import operator
from typing import Any

from hpadvisor.errors import DataError, InvalidInputError
from hpadvisor.formats._common import Draft
from hpadvisor.formats.trainer import Trainer

_MAX_INT_BITS = 256
_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
           ast.Pow: operator.pow}


class _Unsafe(Exception):
    """An expression this reader will not evaluate (it would need running code)."""


def _eval(node: ast.AST, env: dict[str, Any], depth: int = 0) -> Any:
    if depth > 50:
        raise _Unsafe("nested too deeply")
    if isinstance(node, ast.Constant):
        if isinstance(node.value, (int, float, str, bool)) or node.value is None:
            return node.value
        raise _Unsafe(type(node.value).__name__)
    if isinstance(node, ast.Name):
        if node.id in env:
            return env[node.id]
        if node.id in ("True", "False", "None"):  # pragma: no cover - Constants in Python 3.8+
            return {"True": True, "False": False, "None": None}[node.id]
        raise _Unsafe(f"name '{node.id}' is not set earlier in the file")
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.UAdd, ast.USub)):
        v = _eval(node.operand, env, depth + 1)
        _need_number(v)
        return +v if isinstance(node.op, ast.UAdd) else -v
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        a, b = _eval(node.left, env, depth + 1), _eval(node.right, env, depth + 1)
        _need_number(a)
        _need_number(b)
        if isinstance(node.op, ast.Pow) and (abs(b) > 64 or abs(a) > 2**64):
            raise _Unsafe("power too large")
        try:
            out = _BINOPS[type(node.op)](a, b)
        except (ZeroDivisionError, OverflowError, ValueError):
            raise _Unsafe("arithmetic error") from None
        if isinstance(out, complex):
            raise _Unsafe("complex result")
        if isinstance(out, int) and out.bit_length() > _MAX_INT_BITS:
            raise _Unsafe("number too large")
        if isinstance(out, float) and not math.isfinite(out):
            raise _Unsafe("not finite")
        return out
    if isinstance(node, (ast.Tuple, ast.List)):
        if len(node.elts) > 64:
            raise _Unsafe("too long")
        return [_eval(e, env, depth + 1) for e in node.elts]
    raise _Unsafe(type(node).__name__)


def _need_number(v: Any) -> None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise _Unsafe("arithmetic on a non-number")


def assignments(path: str, text: str) -> tuple[dict[str, tuple[Any, int]], list[str], set[str]]:
    """{name: (value, line)} of the file's literal top-level assignments, notes, and the names
    assigned something that is not a literal (their value is unknown)."""
    try:
        tree = ast.parse(text, filename=path, mode="exec")
    except SyntaxError as exc:
        raise DataError(f"{path}:{exc.lineno or '?'}: not valid Python ({exc.msg}). Is the file "
                        "complete?") from None
    except (ValueError, RecursionError, MemoryError, OverflowError):
        raise DataError(f"{path}: cannot be parsed as a Python override file.") from None
    env: dict[str, Any] = {}
    out: dict[str, tuple[Any, int]] = {}
    notes: list[str] = []
    unknown: set[str] = set()
    for stmt in tree.body:
        targets: list[ast.expr]
        if isinstance(stmt, ast.Assign):
            targets, value = stmt.targets, stmt.value
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            targets, value = [stmt.target], stmt.value
        else:
            if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)):
                notes.append(f"line {stmt.lineno}: statement ({type(stmt).__name__}) not read: "
                             "the file is parsed as text, never run.")
            continue
        names = [t.id for t in targets if isinstance(t, ast.Name)]
        if len(names) != len(targets):
            notes.append(f"line {stmt.lineno}: only plain 'name = value' assignments are read.")
            continue
        try:
            result = _eval(value, env)
        except _Unsafe as why:
            notes.append(f"line {stmt.lineno}: {', '.join(names)} = ... is not a literal ({why}); "
                         "not evaluated (the file is never run).")
            for n in names:  # a later use of the name must not see an older value
                env.pop(n, None)
                out.pop(n, None)
                unknown.add(n)
            continue
        for n in names:
            env[n] = result
            out[n] = (result, stmt.lineno)
            unknown.discard(n)
    return out, notes, unknown


_SIMPLE = (
    ("lr", "learning_rate", "pos"), ("min_lr", "min_lr", "nonneg"),
    ("warmup_steps", "warmup_iters", "count"), ("decay_steps", "lr_decay_iters", "posint"),
    ("train_steps", "max_iters", "posint"), ("weight_decay", "weight_decay", "nonneg"),
    ("beta1", "beta1", "beta"), ("beta2", "beta2", "beta"), ("grad_clip", "grad_clip", "nonneg"),
    ("micro_batch_seqs", "batch_size", "posint"), ("seq_len", "block_size", "posint"),
    ("d_model", "n_embd", "posint"), ("n_layers", "n_layer", "posint"), ("n_heads", "n_head", "posint"),
)
#: train.py's model vocabulary without a dataset meta.pkl (GPT-2's 50257 padded to a multiple of 64).
VOCAB = 50304

#: train.py's values for what an override file leaves out.
DEFAULTS = {"learning_rate": 6e-4, "min_lr": 6e-5, "warmup_iters": 2000, "lr_decay_iters": 600000,
            "max_iters": 600000, "weight_decay": 0.1, "beta1": 0.9, "beta2": 0.95, "grad_clip": 1.0,
            "batch_size": 12, "block_size": 1024, "gradient_accumulation_steps": 40,
            "n_layer": 12, "n_head": 12, "n_embd": 768}  # the model: GPT-2 small


#: the configuration variables of nanoGPT's train.py (what an override file sets).
TRAIN_PY_VARIABLES = frozenset({
    "out_dir", "eval_interval", "log_interval", "eval_iters", "eval_only", "always_save_checkpoint", "init_from",
    "wandb_log", "wandb_project", "wandb_run_name", "dataset", "gradient_accumulation_steps", "batch_size",
    "block_size", "n_layer", "n_head", "n_embd", "dropout", "bias", "learning_rate", "max_iters", "weight_decay",
    "beta1", "beta2", "grad_clip", "decay_lr", "warmup_iters", "lr_decay_iters", "min_lr", "backend", "device",
    "dtype", "compile"})


def read(path: str, text: str) -> Draft:
    values, notes, unknown = assignments(path, text)
    if not (set(values) | set(unknown)) & TRAIN_PY_VARIABLES:  # any .py would read as train.py's defaults
        raise DataError(f"{path}: not a nanoGPT config: it assigns none of the variables of nanoGPT's train.py "
                        "(learning_rate, max_iters, batch_size, n_layer...).")
    d = Draft(path, "nanogpt")
    for n in notes:
        d.note(n)
    for canon, key, kind in _SIMPLE:
        if key in values:
            v, line = values[key]
            d.put(canon, d.number(v, key, line, kind), key, line, v)
        elif key in unknown:
            d.unknown.add(canon)
        elif key in DEFAULTS:
            d.default(canon, DEFAULTS[key], key)
    accum: tuple[int | float, int | None, Any] | None
    if "gradient_accumulation_steps" in unknown or "batch_size" in unknown:
        accum = None
    elif "gradient_accumulation_steps" in values:
        v, line = values["gradient_accumulation_steps"]
        total = d.number(v, "gradient_accumulation_steps", line, "posint")
        accum = (total, line, v)
    else:
        accum = (DEFAULTS["gradient_accumulation_steps"], None, None)
    # Total accumulation over all devices: global = batch_size x gradient_accumulation_steps.
    mb = d.settings.get("micro_batch_seqs")
    if mb is not None and accum is not None:
        d.put("global_batch_seqs", mb.value * accum[0], f"{mb.field} x gradient_accumulation_steps",
              None, None, (mb.field, "gradient_accumulation_steps"))
    d.note("nanoGPT's gradient_accumulation_steps counts all devices together (train.py divides "
           "it by the world size): global batch = batch_size x gradient_accumulation_steps.")
    if "decay_lr" in values:
        v, line = values["decay_lr"]
        if not d.boolean(v, "decay_lr", line):
            d.put("schedule", "constant", "decay_lr", line, v)
            d.put("min_lr", d.val("lr"), "decay_lr", line, v, ("decay_lr", "learning_rate"))
            # train.py: lr = get_lr(it) if decay_lr else learning_rate -- no warmup either
            d.put("warmup_steps", 0, "decay_lr", line, v)
    d.default("schedule", "cosine", "decay_lr")
    if d.val("schedule") == "cosine" and d.has("lr") and d.val("min_lr") == d.val("lr"):
        # get_lr decays from learning_rate to min_lr: equal, the lr is constant after the warmup
        d.put("schedule", "constant", "min_lr", d.settings["min_lr"].line, d.settings["min_lr"].raw,
              ("min_lr", "learning_rate"))
    for key in ("mup_enabled", "use_mup"):
        if key in values:
            v, line = values[key]
            d.put("use_mup", d.boolean(v, key, line), key, line, v)
            if d.val("use_mup"):
                base = values.get("mup_width_multiplier") or values.get("mup_base_width")
                d.put("mup_base_shapes", base is not None and base[0] is not None,
                      "mup_width_multiplier", base[1] if base else None, base[0] if base else None)
            break
    if "vocab_size" in values:
        d.note(f"vocab_size (line {values['vocab_size'][1]}) is not read by train.py: the model's vocabulary "
               f"is the dataset's meta.pkl vocab_size, else {VOCAB}; counted with {VOCAB} (`model_config` or "
               "`params` to say otherwise).")
    d.default("vocab_size", VOCAB, "meta.pkl vocab_size, else 50304 (train.py)")
    d.default("use_mup", False, "mup_enabled")
    d.default("tied_embeddings", True, "lm_head")
    d.default("swiglu", False, "mlp")
    d.default("wd_on_embeddings", True, "weight_decay")
    d.default("wd_on_norms", False, "weight_decay")
    return d


# ------------------------------------------------------------------------------------------------
# Writer: an override file of literal assignments.

WRITES = {k for k, _, _ in _SIMPLE} | {"global_batch_seqs", "schedule", "tokens"}


def dump(values: dict[str, Any]) -> str:
    from hpadvisor.formats._common import complete_steps, header, num_text, unsupported, whole

    fmt = "nanoGPT"
    v = complete_steps(values)
    lines: list[str] = []
    for canon, key, kind in _SIMPLE:
        if v.get(canon) is not None:
            text = str(whole(v, canon, fmt)) if kind in ("posint", "count") else repr(float(v[canon]))
            lines.append(f"{key} = {text}")
    if v.get("global_batch_seqs") is not None:
        micro = v.get("micro_batch_seqs", DEFAULTS["batch_size"])
        g = whole(v, "global_batch_seqs", fmt)
        if g % micro:
            raise InvalidInputError(f"nanoGPT: global batch {g} is not a multiple of batch_size {micro}.")
        if v.get("micro_batch_seqs") is None:
            lines.append(f"batch_size = {micro}")
        # nanoGPT counts accumulation over all devices (train.py divides it by the world size).
        lines.append(f"gradient_accumulation_steps = {g // micro}  # total over all devices")
    shape = v.get("schedule")
    if shape == "constant" and v.get("warmup_steps"):
        # decay_lr = False would skip the warmup too (train.py: lr = get_lr(it) if decay_lr else
        # learning_rate): keep get_lr and decay to the peak itself, which holds the lr constant
        if v.get("lr") is None:
            raise InvalidInputError("nanoGPT: a constant lr after a warmup needs the lr (min_lr = learning_rate).")
        lines = [ln for ln in lines if not ln.startswith("min_lr = ")]
        lines.append(f"min_lr = {float(v['lr'])!r}  # = learning_rate: constant after the warmup")
    elif shape == "constant":
        lines.append("decay_lr = False")
    elif shape not in (None, "cosine"):
        raise unsupported(fmt, "schedule", shape, "train.py has cosine decay or none (decay_lr)")
    written = WRITES & {k for k, x in v.items() if x is not None}
    if v.get("data_parallel") is not None:
        lines.append(f"# run on {num_text(v['data_parallel'])} devices "
                     "(torchrun --nproc_per_node); the global batch above does not change with it.")
        written.add("data_parallel")
    return header(fmt, values, written) + "\n".join(lines) + "\n"


TRAINER = Trainer(
    key="nanogpt", name="nanoGPT", order=60, files="override file (read as text, never run)", read=read,
    dump=dump, syntaxes={"python": 0}, convention="nanogpt", shape_default="its 124M default",
)
