"""The complete command line: the shared ``app`` with every command registered.

Import this module (tests, Python users) to get every command; the console script
(:mod:`hpadvisor.cli.entry`) registers only the command it runs, because Typer builds every
registered command's options at each start (about 40 ms for all of them).
"""

from __future__ import annotations

from hpadvisor.cli.base import EXIT_BAD_INPUT, EXIT_INTERNAL, app, fail, guarded  # noqa: F401
from hpadvisor.cli.entry import COMMANDS, main, register

register(m for mods in COMMANDS.values() for m in mods)

__all__ = ["EXIT_BAD_INPUT", "EXIT_INTERNAL", "app", "fail", "guarded", "main"]

if __name__ == "__main__":  # pragma: no cover
    main()
