"""``hpadvisor laws``: list the registry; ``laws show KEY``: one law's formula, constants, units,
fitted range and source; ``laws export KEY``: a law file to edit or fit."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from hpadvisor.cli.base import app, guarded
from hpadvisor.cli.options import FORMAT_HELP, OutputFormat, emit

laws_app = typer.Typer(help="The laws hpadvisor knows: formulas, constants, units, sources.",
                       invoke_without_command=True, no_args_is_help=False)
app.add_typer(laws_app, name="laws")


@laws_app.callback()
@guarded
def laws_list(
    ctx: typer.Context,
    format: Annotated[OutputFormat, typer.Option("--format", "-f", help=FORMAT_HELP)] = OutputFormat.table,
    laws: Annotated[Optional[list[Path]], typer.Option("--laws", help="Also list the laws in these files.")] = None,
) -> None:
    """List every law: key, what it gives, its fitted range and its source.

    `--format markdown` prints the full reference (every law's formula, constants, input units,
    fitted range, source and what it was checked against): docs/laws.md is its output."""
    if ctx.invoked_subcommand is not None:
        return
    from hpadvisor.io import lawfile
    from hpadvisor.laws import REGISTRY

    all_laws, _ = lawfile.merge(REGISTRY, [str(p) for p in (laws or [])])
    brief = format is not OutputFormat.markdown
    emit([lawfile.describe(law, brief=brief) for law in all_laws.values()], format, kind="laws")


@laws_app.command("show")
@guarded
def laws_show(
    key: Annotated[str, typer.Argument(help="Law key, e.g. steplaw (or a law file).")],
    format: Annotated[OutputFormat, typer.Option("--format", "-f", help=FORMAT_HELP)] = OutputFormat.table,
) -> None:
    """Formula, constants, inputs with units and fitted range, outputs, and source of one law."""
    from hpadvisor.io import lawfile

    emit(lawfile.describe(lawfile.find(key)), format, kind="law")


@laws_app.command("export")
@guarded
def laws_export(
    key: Annotated[str, typer.Argument(help="Law key, e.g. chinchilla-epoch.")],
    out: Annotated[Optional[Path], typer.Option(help="Write the law file here (default stdout).")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite --out if it exists.")] = False,
) -> None:
    """Write a law as a law file (YAML) that `--laws` reads back; edit its constants to use your own."""
    import sys

    from hpadvisor.io import lawfile, outputs

    outputs.check_outputs({"--out": out}, force=force, inputs=[key])  # KEY may be a law file
    text = lawfile.dumps(lawfile.find(key))
    if out is None:
        sys.stdout.write(text)
    else:
        outputs.write_atomic(out, text, force=force)
        sys.stderr.write(f"wrote {out}\n")
