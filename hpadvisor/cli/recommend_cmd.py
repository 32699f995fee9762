"""``hpadvisor recommend``: a run file and/or flags in, the advice table (or JSON/YAML/Markdown) out."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from hpadvisor.cli.base import app, guarded
from hpadvisor.cli.options import FORMAT_HELP, OutputFormat, emit, format_keys

_SIZE = "Run size"
_PLAN = "Plan"
_LAW = "Law choice"
_OUT = "Output"


@app.command()
@guarded
def recommend(
    run_file: Annotated[
        Optional[Path], typer.Argument(help="Run file (YAML). Flags override its values.", show_default=False)
    ] = None,
    params: Annotated[Optional[str], typer.Option(help="Total parameters, e.g. 7B.", rich_help_panel=_SIZE)] = None,
    non_embedding_params: Annotated[
        Optional[str], typer.Option(help="Non-embedding parameters.", rich_help_panel=_SIZE)
    ] = None,
    active_params: Annotated[
        Optional[str], typer.Option(help="MoE: active parameters per token.", rich_help_panel=_SIZE)
    ] = None,
    tokens: Annotated[Optional[str], typer.Option(help="Training tokens, e.g. 2T.", rich_help_panel=_SIZE)] = None,
    tokens_per_param: Annotated[
        Optional[str], typer.Option(help="Tokens per total parameter, e.g. 20.", rich_help_panel=_SIZE)
    ] = None,
    compute: Annotated[
        Optional[str], typer.Option(help="Compute budget in FLOPs, e.g. 2e21.", rich_help_panel=_SIZE)
    ] = None,
    seq_len: Annotated[Optional[str], typer.Option(help="Sequence length, e.g. 4k = 4096.", rich_help_panel=_SIZE)] = None,
    batch: Annotated[
        Optional[str], typer.Option(help="Planned batch with unit: '4M tokens' or '1024 seqs'.", rich_help_panel=_PLAN)
    ] = None,
    schedule: Annotated[
        Optional[str], typer.Option(help="cosine, wsd, linear, constant, multistep, inverse_sqrt.", rich_help_panel=_PLAN)
    ] = None,
    warmup: Annotated[
        Optional[str], typer.Option(help="Planned warmup: '2000 steps', '1B tokens' or 0.01.", rich_help_panel=_PLAN)
    ] = None,
    accelerator: Annotated[
        Optional[str], typer.Option(help="H100, A100, B200, MI300X, TPU-v5p...", rich_help_panel=_PLAN)
    ] = None,
    gpus: Annotated[Optional[str], typer.Option(help="Number of accelerators.", rich_help_panel=_PLAN)] = None,
    mfu: Annotated[Optional[str], typer.Option(help="Model FLOPs utilisation (default 0.4).", rich_help_panel=_PLAN)] = None,
    lr_law: Annotated[Optional[str], typer.Option(help="Primary law for peak_lr (see `hpadvisor laws`).", rich_help_panel=_LAW)] = None,
    batch_law: Annotated[Optional[str], typer.Option(help="Primary law for batch_tokens.", rich_help_panel=_LAW)] = None,
    loss_law: Annotated[
        Optional[str], typer.Option(help="Primary law for final_loss and the compute-optimal split.", rich_help_panel=_LAW)
    ] = None,
    laws: Annotated[
        Optional[list[Path]],
        typer.Option("--laws", help="A law file (YAML); its law leads the table. Repeatable.", rich_help_panel=_LAW),
    ] = None,
    format: Annotated[OutputFormat, typer.Option("--format", "-f", help=FORMAT_HELP, rich_help_panel=_OUT)] = OutputFormat.table,
    out: Annotated[Optional[Path], typer.Option(help="Write to this file (atomically) instead of stdout.", rich_help_panel=_OUT)] = None,
    force: Annotated[bool, typer.Option(help="Overwrite --out if it exists.", rich_help_panel=_OUT)] = False,
    emit_format: Annotated[
        Optional[str],
        typer.Option("--emit", help=f"Write the advice as a config snippet for this trainer: {', '.join(format_keys())}.",
                     rich_help_panel=_OUT),
    ] = None,
) -> None:
    """Recommend peak lr, batch, schedule, weight decay, beta2, and predict loss and compute."""
    from hpadvisor.io import lawfile
    from hpadvisor.laws import REGISTRY
    from hpadvisor.recommend import advisor, api

    overrides = {
        "model.params": params, "model.non_embedding_params": non_embedding_params,
        "model.active_params": active_params, "data.tokens": tokens, "data.tokens_per_param": tokens_per_param,
        "data.compute": compute, "seq_len": seq_len, "batch": batch, "schedule.shape": schedule,
        "schedule.warmup": warmup, "hardware.accelerator": accelerator, "hardware.count": gpus, "hardware.mfu": mfu,
    }
    from hpadvisor.io import outputs

    outputs.check_outputs({"--out": out}, force=force, inputs=[run_file, *(laws or [])])  # before any work
    all_laws, preferred = lawfile.merge(REGISTRY, [str(p) for p in (laws or [])])
    spec = api.load_spec(run_file, overrides, laws=all_laws, loss_law=loss_law)
    advice = advisor.recommend(
        spec, laws=all_laws, lr_law=lr_law, batch_law=batch_law, loss_law=loss_law, preferred=preferred
    )
    if emit_format is not None:  # the snippet `hpadvisor check` reads back (see docs/check.md)
        _emit_snippet(advice, emit_format, out, force)
        return
    emit(advice, format, out=out, force=force, kind="advice")


def _emit_snippet(advice, emit_format: str, out: Path | None, force: bool) -> None:
    """The advice as the trainer's config snippet, its notes on stderr."""
    from hpadvisor.cli.flags import cli_text
    from hpadvisor.io import outputs
    from hpadvisor.recommend.emit import emit_snippet

    text, notes = emit_snippet(advice, emit_format)
    for note in notes:
        typer.echo(f"note: {cli_text(note)}", err=True)
    if out is not None:
        outputs.write_atomic(out, text, force=force)
        typer.echo(f"wrote {out}", err=True)
    else:
        typer.echo(text, nl=False)
