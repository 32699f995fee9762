"""The exception tree of hpadvisor.

    HpAdvisorError                    root: everything hpadvisor raises on purpose
    ├── InvalidInputError (ValueError) a value the user gave is wrong (size, unit, key, type)
    │   └── UnknownLawError (KeyError)  a law name that is not in the registry (suggests close ones)
    ├── DataError                      a file cannot be read or does not contain what it should
    └── FitError (RuntimeError)        a fit did not converge or is not usable; no parameters are reported

    WeakFitWarning (UserWarning)       a weak fit's law file is used (a warning: the command goes on)

The command line turns each error into one line on stderr and exit code 2 (bad input), and each
warning into one ``warning:`` line; ``--debug`` re-raises with the traceback.  Every message says
what is wrong and how to fix it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class HpAdvisorError(Exception):
    """Root of every error hpadvisor raises on purpose."""


class InvalidInputError(HpAdvisorError, ValueError):
    """A value the user supplied is invalid (wrong sign, unit, type or key)."""


class UnknownLawError(InvalidInputError, KeyError):
    """A law name that is not in the registry."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class DataError(HpAdvisorError):
    """A file is missing, unreadable, or lacks what it must contain."""


class FitError(HpAdvisorError, RuntimeError):
    """A fit did not converge, or is not usable (:mod:`hpadvisor.fitting.acceptance`)."""


class WeakFitWarning(UserWarning):
    """A law file whose fit is weak is used (its ``fit.warnings``); the command line prints it as
    one ``warning:`` line on stderr.  A warning, not an error: the command goes on."""


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """The closest candidate to ``word`` (for 'did you mean' hints), or None."""
    matches = difflib.get_close_matches(str(word), list(candidates), n=1, cutoff=0.5)
    return matches[0] if matches else None


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """' Did you mean 'x'?' or, failing a close match, the list of valid names."""
    candidates = sorted(candidates)
    best = closest(word, candidates)
    if best is not None:
        return f" Did you mean '{best}'?"
    return " Valid: " + ", ".join(candidates) + "."


def bad_value(name: str, where: str, requirement: str, got: object) -> InvalidInputError:
    """The one message shape for a bad value (after scikit-learn's parameter validation).

    >>> str(bad_value("N", "chinchilla.loss", "> 0", -7e9))
    "The 'N' parameter of chinchilla.loss must be > 0. Got -7e+09 instead."
    """
    shown = f"{got:g}" if isinstance(got, float) else repr(got)
    return InvalidInputError(
        f"The '{name}' parameter of {where} must be {requirement}. Got {shown} instead."
    )
