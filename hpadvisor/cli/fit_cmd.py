"""``hpadvisor fit ...``: fit a law to your own data and save it as a law file.

A minimal sub-app: each kind of fit registers its command on ``fit_app`` from its own module
(``fit curves`` in fit_curves_cmd.py).
"""

from __future__ import annotations

import typer

from hpadvisor.cli.app import app

fit_app = typer.Typer(help="Fit a law to your own runs and save it as a law file (YAML).",
                      no_args_is_help=True)
app.add_typer(fit_app, name="fit")
