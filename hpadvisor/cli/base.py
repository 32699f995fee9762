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
import warnings
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer
from typer._click.exceptions import NoArgsIsHelpError, UsageError
from typer.core import TyperGroup

from hpadvisor import __version__


class _OneLineUsageError(UsageError):
    """A usage error shown as one line: the message, then where help is."""

    def show(self, file: Any = None) -> None:
        sys.stderr.write(f"Error: {self.message}\n")


def _one_line(exc: UsageError, where: str) -> _OneLineUsageError:
    text = " ".join(exc.format_message().split()).rstrip(".")
    if exc.ctx is not None:
        where = exc.ctx.command_path
    one = _OneLineUsageError(f"{text}. See '{where} --help'.", ctx=exc.ctx)
    one.exit_code = exc.exit_code
    return one


class _Group(TyperGroup):
    """The top-level group: command-line usage errors (unknown option, missing argument, bad
    value) become one line on stderr, exit code 2, like every other input error; click would
    print the usage line, a hint and a blank line before it.  A bare command still shows help."""

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().make_context(*args, **kwargs)
        except NoArgsIsHelpError:
            raise
        except UsageError as exc:
            raise _one_line(exc, "hpadvisor") from None

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (NoArgsIsHelpError, _OneLineUsageError):
            raise
        except UsageError as exc:
            # An option's parse error may come without its command's context.
            where = " ".join(filter(None, (ctx.command_path, ctx.invoked_subcommand)))
            raise _one_line(exc, where) from None


app = typer.Typer(
    cls=_Group,
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
    """Print ``Error: message`` on stderr, the library's `` `name` `` written as the running
    command's flag (:func:`hpadvisor.cli.flags.cli_text`); return the Exit to raise."""
    from hpadvisor.cli.flags import cli_text

    # One line, always: a value quoted from the user's file may carry a newline.
    sys.stderr.write(f"Error: {' '.join(cli_text(message).split())}\n")
    return typer.Exit(code)


def _show_warning(message: Any, category: Any, filename: str, lineno: int, file: Any = None,
                  line: Any = None) -> None:
    """A WeakFitWarning as one ``warning:`` line on stderr (parameter names as this command's flags:
    :func:`hpadvisor.cli.flags.cli_text`); any other warning as Python shows it."""
    from hpadvisor.cli.flags import cli_text
    from hpadvisor.errors import WeakFitWarning

    if isinstance(category, type) and issubclass(category, WeakFitWarning):
        sys.stderr.write(f"warning: {' '.join(cli_text(str(message)).split())}\n")
        return
    sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


def guarded(func: F) -> F:
    """Turn library errors into one line on stderr and exit code 2 (or a traceback with --debug);
    :func:`fail` writes the parameter names they give as this command's flags."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from hpadvisor.errors import HpAdvisorError, WeakFitWarning

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("default", WeakFitWarning)  # every law file read says it, once a command
                warnings.showwarning = _show_warning
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
        except OSError as exc:  # the system refused a read or a write (disk full, permission): not a bug
            if _STATE["debug"]:
                raise
            where = f" ('{exc.filename}')" if exc.filename else ""
            raise fail(f"{exc.strerror or type(exc).__name__}{where}: check the path, its permissions and the "
                       "free space.") from None
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
