"""``hpadvisor schema``: the JSON Schema of the run file, for editors and CI validation."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from hpadvisor.cli.base import app, guarded


@app.command()
@guarded
def schema(
    out: Annotated[Optional[Path], typer.Option(help="Write the schema here (default stdout).")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite --out if it exists.")] = False,
) -> None:
    """Print the JSON Schema of the run file (point your editor's YAML plugin at it)."""
    from hpadvisor import spec
    from hpadvisor.io import outputs

    outputs.check_outputs({"--out": out}, force=force)
    text = json.dumps(spec.json_schema(), indent=2) + "\n"
    if out is None:
        sys.stdout.write(text)
    else:
        outputs.write_atomic(out, text, force=force)
        sys.stderr.write(f"wrote {out}\n")
