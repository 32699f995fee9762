"""The Typer application object and the error boundary every command shares.

Each command lives in its own module and registers itself on ``app`` when imported
(:mod:`hpadvisor.cli.app` imports them all; the console script imports only the one it runs, see
:mod:`hpadvisor.cli.entry`).  Errors raised on purpose
(:class:`hpadvisor.errors.HpAdvisorError`) become one line on stderr and exit code 2; ``--debug``
(or HPADVISOR_DEBUG=1) shows the traceback instead.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer

from hpadvisor import __version__

app = typer.Typer(
    name="hpadvisor",
    help="Hyperparameter advice for LLM pretraining: every published lr / batch / loss law, "
    "with its source, its spread and its fitted range.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

_STATE = {"debug": bool(os.environ.get("HPADVISOR_DEBUG"))}

EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int = EXIT_BAD_INPUT) -> typer.Exit:
    """Print ``Error: message`` on stderr; return the Exit to raise."""
    # One line, always: a value quoted from the user's file may carry a newline.
    sys.stderr.write(f"Error: {' '.join(message.split())}\n")
    return typer.Exit(code)


def guarded(func: F) -> F:
    """Turn library errors into one line on stderr and exit code 2 (or a traceback with --debug)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from hpadvisor.errors import HpAdvisorError

        try:
            return func(*args, **kwargs)
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except HpAdvisorError as exc:
            if _STATE["debug"]:
                raise
            raise fail(str(exc)) from None
        except BrokenPipeError:
            sys.stderr.close()
            raise typer.Exit(0) from None
        except KeyboardInterrupt:
            raise fail("interrupted.", 130) from None
        except Exception as exc:  # a bug: still one line, and how to report it
            if _STATE["debug"]:
                raise
            raise fail(
                f"internal error ({type(exc).__name__}: {exc}). Re-run with --debug and report it.",
                EXIT_INTERNAL,
            ) from None

    return wrapper  # type: ignore[return-value]


def _version(value: bool) -> None:
    if value:
        print(f"hpadvisor {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks instead of one-line errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    if debug:
        _STATE["debug"] = True
