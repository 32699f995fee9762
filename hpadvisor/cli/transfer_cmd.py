"""``hpadvisor transfer``: carry hyperparameters tuned on a small proxy to the target model."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from hpadvisor.cli.base import app, guarded
from hpadvisor.cli.options import FORMAT_HELP, OutputFormat, emit
from hpadvisor.transfer.emit import EMITTERS

_BASE = "Proxy (base) model"
_TARGET = "Target model"
_OUT = "Output"


def _values_from_file(path: Path | None) -> dict:
    from hpadvisor.recommend.api import load_values

    return load_values(str(path)) if path is not None else {}


def _shape_and_run(values: dict, seq_len_default: int = 2048) -> dict:
    """width/depth/... and lr/batch/tokens from a run file's dotted values."""
    seq = values.get("seq_len", seq_len_default)
    batch = values.get("batch")
    batch_tokens = None if batch is None else (batch[0] * seq if batch[1] == "sequences" else batch[0])
    a = "model.architecture."
    return {
        "width": values.get(a + "d_model"), "depth": values.get(a + "n_layers"),
        "n_heads": values.get(a + "n_heads"), "head_dim": values.get(a + "head_dim"),
        "ffn": values.get(a + "ffn_hidden"), "init_std": values.get(a + "init_std"),
        "lr": values.get("optimizer.lr"), "weight_decay": values.get("optimizer.weight_decay"),
        "eps": values.get("optimizer.eps"), "batch_tokens": batch_tokens, "tokens": values.get("data.tokens"),
    }


@app.command()
@guarded
def transfer(
    proxy_file: Annotated[Optional[Path], typer.Argument(
        help="Run file of the proxy (its architecture and tuned optimizer values), or a run file with a "
             "`proxy:` section (then the target is that file's architecture).", show_default=False)] = None,
    to: Annotated[Optional[Path], typer.Option("--to", help="Run file of the target model.", rich_help_panel=_TARGET)] = None,
    param: Annotated[str, typer.Option("--param", help="sp, mup, mup-sgd, u-mup, completep, depth-mup, width-wd.")] = "",
    optimizer: Annotated[str, typer.Option(help="adamw, adam or sgd.")] = "adamw",
    base_width: Annotated[Optional[str], typer.Option(help="Proxy d_model (4k = 4096).", rich_help_panel=_BASE)] = None,
    base_depth: Annotated[Optional[str], typer.Option(help="Proxy layers.", rich_help_panel=_BASE)] = None,
    base_heads: Annotated[Optional[str], typer.Option(help="Proxy attention heads.", rich_help_panel=_BASE)] = None,
    base_head_dim: Annotated[Optional[str], typer.Option(help="Proxy head size.", rich_help_panel=_BASE)] = None,
    base_ffn: Annotated[Optional[str], typer.Option(help="Proxy MLP size (default 4 d_model).", rich_help_panel=_BASE)] = None,
    lr: Annotated[Optional[str], typer.Option(help="Learning rate tuned on the proxy.", rich_help_panel=_BASE)] = None,
    init_std: Annotated[Optional[str], typer.Option(help="Init std tuned on the proxy (default 0.02).", rich_help_panel=_BASE)] = None,
    weight_decay: Annotated[Optional[str], typer.Option(help="Proxy weight decay (default 0.1).", rich_help_panel=_BASE)] = None,
    eps: Annotated[Optional[str], typer.Option(help="Proxy Adam epsilon (default 1e-8).", rich_help_panel=_BASE)] = None,
    base_batch: Annotated[Optional[str], typer.Option(help="Proxy batch with unit ('256 seqs').", rich_help_panel=_BASE)] = None,
    base_tokens: Annotated[Optional[str], typer.Option(help="Proxy tokens.", rich_help_panel=_BASE)] = None,
    width: Annotated[Optional[str], typer.Option(help="Target d_model (4k = 4096).", rich_help_panel=_TARGET)] = None,
    depth: Annotated[Optional[str], typer.Option(help="Target layers.", rich_help_panel=_TARGET)] = None,
    heads: Annotated[Optional[str], typer.Option(help="Target attention heads.", rich_help_panel=_TARGET)] = None,
    head_dim: Annotated[Optional[str], typer.Option(help="Target head size.", rich_help_panel=_TARGET)] = None,
    ffn: Annotated[Optional[str], typer.Option(help="Target MLP size.", rich_help_panel=_TARGET)] = None,
    batch: Annotated[Optional[str], typer.Option(help="Target batch with unit.", rich_help_panel=_TARGET)] = None,
    tokens: Annotated[Optional[str], typer.Option(help="Target tokens.", rich_help_panel=_TARGET)] = None,
    seq_len: Annotated[Optional[str], typer.Option(help="Sequence length for batches in seqs (default 2048).")] = None,
    emit_as: Annotated[Optional[str], typer.Option(
        "--emit", help=f"{', '.join(EMITTERS)}: a config snippet.",
        rich_help_panel=_OUT)] = None,
    format: Annotated[OutputFormat, typer.Option("--format", "-f", help=FORMAT_HELP, rich_help_panel=_OUT)] = OutputFormat.table,
    out: Annotated[Optional[Path], typer.Option(help="Write to this file (atomically).", rich_help_panel=_OUT)] = None,
    force: Annotated[bool, typer.Option(help="Overwrite --out if it exists.", rich_help_panel=_OUT)] = False,
) -> None:
    """Per-group lr, init std, multipliers, weight decay and eps for the target, from a tuned proxy."""
    import dataclasses

    from hpadvisor.cli.flags import cli_data
    from hpadvisor.io import outputs
    from hpadvisor.spec import units
    from hpadvisor.transfer import plan as tr
    from hpadvisor.transfer.emit import emit as emit_snippet

    outputs.check_outputs({"--out": out}, force=force, inputs=[proxy_file, to])  # before any work
    seq = units.parse_seq_len(seq_len) if seq_len is not None else 2048
    base, target, param = _base_and_target(proxy_file, to, param, seq)
    flag_base = {"width": (base_width, "width"), "depth": (base_depth, "int"), "n_heads": (base_heads, "int"),
                 "head_dim": (base_head_dim, "width"), "ffn": (base_ffn, "width"), "lr": (lr, "lr"),
                 "init_std": (init_std, "lr"), "weight_decay": (weight_decay, "nonneg"), "eps": (eps, "lr"),
                 "batch_tokens": (base_batch, "batch"), "tokens": (base_tokens, "count")}
    flag_target = {"width": (width, "width"), "depth": (depth, "int"), "n_heads": (heads, "int"),
                   "head_dim": (head_dim, "width"), "ffn": (ffn, "width"), "batch_tokens": (batch, "batch"),
                   "tokens": (tokens, "count")}
    _apply_flags(base, flag_base, "--base-", seq)
    _apply_flags(target, flag_target, "--", seq)

    plan = tr.plan_from_values(base, target, param=param, optimizer=optimizer)
    plan = dataclasses.replace(plan, notes=cli_data(plan.notes))  # parameter names as this command's flags
    if emit_as is not None:
        text = emit_snippet(plan, emit_as)
        if out is None:
            sys.stdout.write(text)
        else:
            outputs.write_atomic(out, text, force=force)
            sys.stderr.write(f"wrote {out}\n")
        return
    emit(plan, format, out=out, force=force, kind="transfer")


def _base_and_target(proxy_file: Path | None, to: Path | None, param: str, seq: int) -> tuple[dict, dict, str]:
    """The proxy's and the target's values from the run files, and the parameterization: a run
    file with a `proxy:` section and no --to is both (its section the base, its architecture the
    target)."""
    first = _values_from_file(proxy_file)
    target_vals = _values_from_file(to)
    proxy_section = {k.split(".", 1)[1]: v for k, v in first.items() if k.startswith("proxy.")}
    if proxy_section and to is None:
        # One run file: its `proxy:` section is the base, its architecture the target.
        base = _shape_and_run({f"model.architecture.{k}" if k in ("d_model", "n_layers", "n_heads", "head_dim",
                               "ffn_hidden", "init_std") else k: v for k, v in proxy_section.items()})
        base.update(lr=proxy_section.get("lr"), weight_decay=proxy_section.get("weight_decay"),
                    eps=proxy_section.get("eps"), tokens=proxy_section.get("tokens"))
        pb = proxy_section.get("batch")
        base["batch_tokens"] = None if pb is None else (pb[0] * first.get("seq_len", seq) if pb[1] == "sequences" else pb[0])
        target = _shape_and_run(first, seq)
        param = param or proxy_section.get("parameterization", "mup")
    else:
        base = _shape_and_run(first, seq)
        target = _shape_and_run(target_vals, seq)
    return base, target, param or "mup"


#: each value's own flag, for the messages (the proxy's tuned values have no --base- prefix)
_FLAG_NAMES = {("--base-", "n_heads"): "--base-heads", ("--", "n_heads"): "--heads",
               ("--base-", "batch_tokens"): "--base-batch", ("--", "batch_tokens"): "--batch",
               **{("--base-", k): f"--{k.replace('_', '-')}" for k in ("lr", "init_std", "weight_decay", "eps")}}


def _apply_flags(vals: dict, flags: dict, prefix: str, seq: int) -> None:
    """Each flag given (key -> (value, kind)) converted and put over the run file's value."""
    from hpadvisor import spec

    for key, (value, kind) in flags.items():
        if value is None:
            continue
        converted = spec.convert(kind, value, _FLAG_NAMES.get((prefix, key), prefix + key.replace("_", "-")))
        if kind == "batch":
            converted = converted[0] * seq if converted[1] == "sequences" else converted[0]
        vals[key] = converted
