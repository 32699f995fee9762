"""``predict`` handlers for sweep laws (lr*, B*) and critical-batch laws.

JSON output (a stable interface): a sweep law prints ``{"lr": x, "batch_tokens": b}``, a critical
batch law ``{"critical_batch_tokens": b}``.  ``--params`` is read as the parameter count the law
was fitted on (non-embedding for ``steplaw`` / ``steplaw-fit``, total for ``steplaw-fit-total``);
which one is said on stderr, with any extrapolation beyond the fitted range.
"""

from __future__ import annotations

import sys
from typing import Any


def _sizes(law: Any, params: str | None, tokens: str | None, need_n: bool) -> tuple[float | None, float]:
    from hpadvisor.errors import InvalidInputError
    from hpadvisor.spec import units

    if tokens is None or (need_n and params is None):
        raise InvalidInputError(f"a {type(law).key} law needs --params N and --tokens D.")
    D = units.parse_size(tokens, name="--tokens", of="tokens")
    N = units.parse_size(params, name="--params", of="parameters") if params is not None else None
    return N, D


def _notes(law: Any, symbols: dict[str, float]) -> None:
    spec = type(law).inputs.get("N")
    if spec is not None and "N" in symbols:
        sys.stderr.write(f"note: --params read as {spec.meaning} (what {law.registry_key} was fitted on).\n")
    _, reasons = law.extrapolation(symbols)
    for r in reasons:
        sys.stderr.write(f"extrapolation: {r}\n")


def _emit(result: dict[str, float], format: Any, text: str) -> None:
    """The result as JSON or YAML (the stable interface), or ``text`` for a person."""
    from hpadvisor.cli.options import data_text

    sys.stdout.write(data_text(result, format, indent=None) or text + "\n")


def predict_sweep(law: Any, *, params: str | None, tokens: str | None, format: Any, **_: Any) -> None:
    """lr* and B* of a Step-Law-form law at (N, D)."""
    from hpadvisor.spec import units

    N, D = _sizes(law, params, tokens, need_n=True)
    result = {"lr": float(law.lr(N, D)), "batch_tokens": float(law.batch_tokens(D))}
    _notes(law, {"N": N, "D": D})
    _emit(result, format, f"{law.registry_key}: peak lr {result['lr']:.4g}, batch "
          f"{units.format_si(result['batch_tokens'])} tokens at N = {units.format_si(N)}, D = {units.format_si(D)}")


def predict_batch(law: Any, *, params: str | None, tokens: str | None, format: Any, **_: Any) -> None:
    """The critical batch (tokens) of a fitted critical-batch law at (N, D)."""
    from hpadvisor.spec import units

    N, D = _sizes(law, params, tokens, need_n=True)
    result = {"critical_batch_tokens": float(law.critical_batch_tokens(N, D))}
    _notes(law, {"N": N, "D": D})
    _emit(result, format, f"{law.registry_key}: critical batch {units.format_si(result['critical_batch_tokens'])} "
          f"tokens at N = {units.format_si(N)}, D = {units.format_si(D)}")
