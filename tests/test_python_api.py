"""The library speaks Python: its functions, called with bad arguments, name their own parameters
(`n_boot`, `seq_len`), never a command-line flag; the command line writes each such name as its
flag (hpadvisor/cli/flags.py, the one mapping), so it prints what it printed before."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np
import pytest

from hpadvisor.cli import flags
from hpadvisor.errors import HpAdvisorError
from tests.conftest import ROOT

PKG = ROOT / "hpadvisor"
SWEEP = "N,D,lr,batch,loss\n" + "".join(
    f"{n:g},{d:g},{lr:g},{b},{3 + (np.log(lr / 2e-3)) ** 2 / 10 + (np.log(b / 128)) ** 2 / 20 - np.log(n / 1e8) / 10:.5f}\n"
    for n in (1e8, 4e8) for d in (2e9, 8e9) for lr in (1e-3, 2e-3, 4e-3) for b in (64, 128, 256))
BATCH = "model,N,batch_tokens,steps\n" + "".join(
    f"{m},{n:g},{b},{round(1000 * (1 + 2e5 / b))}\n" for m, n in (("a", 1e8), ("b", 4e8))
    for b in (32768, 65536, 131072, 262144, 524288))


def _table(tmp_path, text, **kw):
    from hpadvisor.fitting.data import read_fit_table

    path = tmp_path / "t.csv"
    path.write_text(text)
    need = ["N", "D", "lr", "loss"] if "lr" in text else ["N", "steps"]
    args = dict(need=need, what="table", param_count=None, default_param_count="total", need_batch=True,
                batch_unit="tokens")
    return read_fit_table(path, **{**args, **kw})


def _sweep(tmp_path, **kw):
    from hpadvisor.fitting.sweep import fit_sweep

    return fit_sweep(_table(tmp_path, SWEEP), **{"n_boot": 0, **kw})


def _batch(tmp_path, **kw):
    from hpadvisor.fitting.batch import fit_batch

    return fit_batch(_table(tmp_path, BATCH), **{"n_boot": 0, "reference_batch": 0, **kw})


def _curves():
    from hpadvisor.fitting.curves import Curve

    steps = np.arange(100, 2001, 100)
    return [Curve("a", np.full(2001, 1e-3), steps, 3 + 1 / np.sqrt(steps))]


def _fit_curves(**kw):
    from hpadvisor.fitting.curves import fit_curves

    return fit_curves(_curves(), **kw)


def _ladder(tmp_path, **kw):
    from hpadvisor.fitting import final

    return final.read_ladder(str(ROOT / "data" / "gemstones" / "hpadvisor" / "ladder.csv"), **kw)


def _fit_final(tmp_path, **kw):
    from hpadvisor.fitting import final

    return final.fit_final(_ladder(tmp_path), bootstrap=0, **kw)


def _mask(expr):
    from hpadvisor.fitting import holdout

    return holdout.mask(expr, {"N": np.array([1e8, 1e9]), "D": np.array([1e9, 1e10])})


def _compare(total, **kw):
    from hpadvisor.fitting import curve_advice
    from hpadvisor.laws import REGISTRY

    return curve_advice.compare(REGISTRY["mpl-400m"], total, search=False, **kw)


def _predict(steps):
    from hpadvisor.fitting import curve_advice
    from hpadvisor.laws import REGISTRY

    return curve_advice.predict(REGISTRY["mpl-400m"], np.full(1001, 3e-4), steps)


def _planned(shape, total):
    from hpadvisor.fitting import curve_advice
    from hpadvisor.laws import REGISTRY

    return curve_advice.planned(REGISTRY["mpl-400m"], shape, total)


def _plan(base=None, target=None, **kw):
    from hpadvisor.transfer.plan import plan_from_values

    base = {"width": 256, "depth": 4, "lr": 1e-3} if base is None else base
    return plan_from_values(base, {"width": 1024, "depth": 4} if target is None else target, **kw)


def _emit(fmt):
    from hpadvisor.transfer.emit import emit

    return emit(_plan(), fmt)


def _advice(**kw):
    import hpadvisor

    return hpadvisor.recommend(hpadvisor.spec_from(**kw))


def _emit_snippet(trainer):
    from hpadvisor.recommend.emit import emit_snippet

    return emit_snippet(_advice(params="1B", tokens="20B"), trainer)


def _schedule(**kw):
    from hpadvisor.recommend.advisor import planned_schedule

    return planned_schedule(None, None, **kw)


def _curves_from_logs(tmp_path, text):
    from hpadvisor.fitting.curves import curves_from_logs

    path = tmp_path / "log.csv"
    path.write_text(text)
    return curves_from_logs([str(path)])


def _read_config(tmp_path):
    from hpadvisor.formats.registry import read_config

    path = tmp_path / "c.yaml"
    path.write_text("- a list\n")
    return read_config(path)


#: (case, call(tmp_path), the parameter the message names, the command whose flags it maps to)
BAD = [
    ("fit_sweep n_boot", lambda p: _sweep(p, n_boot=-1), "`n_boot` must be >= 0", "fit sweep"),
    ("fit_sweep method", lambda p: _sweep(p, method="x"), "`method` must be one of", "fit sweep"),
    ("fit_sweep tolerance", lambda p: _sweep(p, tolerance=0.9), "`tolerance` must be in", "fit sweep"),
    ("fit_sweep window", lambda p: _sweep(p, window=2), "`window` must be in", "fit sweep"),
    ("fit_sweep holdout", lambda p: _sweep(p, holdout=np.arange(36) < 2), "`holdout` selects only some runs",
     "fit sweep"),
    ("fit_sweep holdout all", lambda p: _sweep(p, holdout=np.ones(36, bool)), "`holdout` selects every setting",
     "fit sweep"),
    ("read_fit_table param_count", lambda p: _table(p, SWEEP, param_count="x"), "`param_count` must be",
     "fit sweep"),
    ("read_fit_table batch_unit", lambda p: _table(p, SWEEP, batch_unit="x"), "`batch_unit` must be", "fit sweep"),
    ("read_fit_table seq_len", lambda p: _table(p, SWEEP, batch_unit=None),
     "give `seq_len` (e.g. `seq_len` 2048) or `batch_unit` tokens", "fit sweep"),
    ("read_fit_table mapping", lambda p: _table(p, SWEEP, mapping={"loss": "nope"}), "`mapping` loss=nope",
     "fit sweep"),
    ("read_fit_table mapping key", lambda p: _table(p, SWEEP, mapping={"nope": "loss"}), "`mapping` names 'nope'",
     "fit sweep"),
    ("fit_batch n_boot", lambda p: _batch(p, n_boot=-1), "`n_boot` must be >= 0", "fit batch"),
    ("fit_batch overhead", lambda p: _batch(p, overhead=20), "`overhead` must be in", "fit batch"),
    ("fit_batch tokens_per_param", lambda p: _batch(p, tokens_per_param=-1), "`tokens_per_param` must be > 0",
     "fit batch"),
    ("fit_batch reference_batch", lambda p: _batch(p, reference_batch="100"), "`reference_batch` '100': say the unit",
     "fit batch"),
    ("fit_batch reference_batch seqs", lambda p: _batch(p, reference_batch="256 seqs"),
     "counts sequences: give `seq_len` too", "fit batch"),
    ("fit_batch no seq_len", lambda p: _batch(p, reference_batch=None), "give `seq_len`, or `reference_batch`",
     "fit batch"),
    ("fit_batch holdout", lambda p: _batch(p, holdout=np.arange(10) == 0), "`holdout` selects only some rows",
     "fit batch"),
    ("read_ladder drop_highest_loss", lambda p: _ladder(p, drop_highest_loss=10**6), "`drop_highest_loss` must be",
     "fit final"),
    ("fit_final outlier_sigma", lambda p: _fit_final(p, outlier_sigma=1), "`outlier_sigma` must be 0", "fit final"),
    ("holdout empty", lambda p: _mask(" "), "`holdout` needs an expression", "fit final"),
    ("holdout clause", lambda p: _mask("N"), "`holdout` 'N': cannot read 'N'", "fit final"),
    ("holdout column", lambda p: _mask("Q > 1"), "`holdout`: unknown column 'Q'", "fit final"),
    ("holdout number", lambda p: _mask("N > abc"), "'`holdout`' = 'abc' is not a number", "fit final"),
    ("fit_curves law", lambda p: _fit_curves(law="x"), "`law` must be", "fit curves"),
    ("fit_curves method", lambda p: _fit_curves(method="x"), "`method` must be", "fit curves"),
    ("fit_curves luo", lambda p: _fit_curves(law="annealing", method="luo"), "use it with `law` multipower",
     "fit curves"),
    ("fit_curves max_points", lambda p: _fit_curves(max_points=5), "`max_points` must be at least 10", "fit curves"),
    ("fit_curves lam", lambda p: _fit_curves(law="annealing", warmup="peak", lam=2), "`lam` must be in (0, 1)",
     "fit curves"),
    ("fit_curves holdout", lambda p: _fit_curves(holdout=["b"]), "`holdout` b: no run of that name", "fit curves"),
    ("fit_curves holdout all", lambda p: _fit_curves(holdout=["a"]), "`holdout` names every run", "fit curves"),
    ("curves_from_logs no lr", lambda p: _curves_from_logs(p, "step,loss\n1,3.0\n2,2.9\n"),
     "pass `shape`/`peak`/`warmup_steps`/`total_steps`, `config` TRAINER-CONFIG, or `mapping` lr=<column>",
     "fit curves"),
    ("curves_from_logs no step", lambda p: _curves_from_logs(p, "step,lr,loss\n1,1e-3,3.0\n,1e-3,2.9\n"),
     "`mapping` step=<column>", "fit curves"),
    ("predict steps", lambda p: _predict([5000]), "step 5000 (`steps`) is past", "predict"),
    ("planned warmup", lambda p: _planned("wsd", 1000), "give `warmup` (shorter than the run)", "predict"),
    ("compare total", lambda p: _compare(1), "`total` must be at least 2", "compare-schedules"),
    ("compare min_lr_ratio", lambda p: _compare(100, min_lr_ratio=1.5), "`min_lr_ratio` must be in [0, 1)",
     "compare-schedules"),
    ("compare cooldown", lambda p: _compare(100, cooldown_min_lr_ratio=-1), "`cooldown_min_lr_ratio` must be in",
     "compare-schedules"),
    ("compare peak", lambda p: _compare(30000, peak=-1.0), "`peak` must be a finite number > 0", "compare-schedules"),
    ("compare warmup", lambda p: _compare(30000, warmup=-1), "`warmup` must be a whole number", "compare-schedules"),
    ("compare short", lambda p: _compare(1000), "give more `total` or a shorter `warmup`", "compare-schedules"),
    ("transfer width", lambda p: _plan(base={"depth": 4, "lr": 1e-3}), "or `base['width']`)", "transfer"),
    ("transfer depth", lambda p: _plan(target={"width": 1024}), "or `target['depth']`)", "transfer"),
    ("transfer lr", lambda p: _plan(base={"width": 256, "depth": 4}), "(`base['lr']`, or proxy.lr)", "transfer"),
    ("transfer sgd", lambda p: _plan(param="u-mup", optimizer="sgd"), "use `optimizer` adamw or `param` mup",
     "transfer"),
    ("transfer mup-sgd", lambda p: _plan(param="mup-sgd"), "with Adam use `param` mup", "transfer"),
    ("transfer emit", lambda p: _emit("foo"), "unknown `fmt` 'foo'", "transfer"),
    ("transfer emit fields", lambda p: _emit_unsupported(), "use `fmt` recipe",
     "transfer"),
    ("spec_from no params", lambda p: _advice(tokens="1T"), "(e.g. `params` 7B)", "recommend"),
    ("spec_from no tokens", lambda p: _advice(params="1B"), "(e.g. `tokens` 2T)", "recommend"),
    ("emit_snippet trainer", lambda p: _emit_snippet("foo"), "`trainer` 'foo' is not one of", "recommend"),
    ("planned_schedule shape", lambda p: _schedule(), "give `shape` (cosine", "schedule"),
    ("planned_schedule total_steps", lambda p: _schedule(shape="cosine", peak=1e-3),
     "no total_steps for this schedule: give `total_steps`.", "schedule"),
    ("planned_schedule peak", lambda p: _schedule(shape="cosine", total_steps=1000),
     "no peak_lr for this schedule: give `peak`.", "schedule"),
    ("planned_schedule length", lambda p: _schedule(shape="cosine", peak=1e-3, total_steps=10**9),
     "`total_steps` runs to step 1e+09", "schedule"),
    ("planned_schedule min_lr", lambda p: _schedule(shape="cosine", peak=1e-3, total_steps=100, min_lr=1e-5,
                                                   min_lr_ratio=0.1), "`min_lr` (absolute) or `min_lr_ratio`",
     "schedule"),
    ("read_config format", lambda p: _read_config(p), "(`format`: one of", "check"),
    ("parse_map", lambda p: _parse_map(), "`mapping` 'bad' must look like canonical=column", "fit sweep"),
    ("write_atomic force", lambda p: _write_twice(p), "Pass `force` to overwrite it.", "fit sweep"),
]


def _emit_unsupported():
    from hpadvisor.transfer.emit import emit

    return emit(_plan(param="width-wd"), "megatron")


def _parse_map():
    from hpadvisor.io.tables import parse_map

    return parse_map(["bad"])


def _write_twice(tmp_path):
    from hpadvisor.io.outputs import write_atomic

    write_atomic(tmp_path / "o.txt", "x")
    return write_atomic(tmp_path / "o.txt", "y")


@pytest.mark.parametrize(("call", "said", "command"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_a_bad_argument_is_named_by_its_python_name(tmp_path, call, said, command):
    with pytest.raises(HpAdvisorError) as info:
        call(tmp_path)
    message = str(info.value)
    assert said in message
    assert not re.search(r"(^|[\s('\"/])--[a-z]", message), message
    # and the command line writes every name it gives as a flag of that command
    assert "`" not in flags.cli_text(message, command), flags.cli_text(message, command)


@pytest.mark.parametrize(("text", "command", "printed"), [
    ("`n_boot` must be >= 0 (0 = no intervals), not -1.", "fit sweep", "--bootstrap must be >= 0 (0 = no intervals), not -1."),
    ("give `seq_len` (e.g. `seq_len` 2048) or `batch_unit` tokens.", "fit sweep",
     "give --seq-len (e.g. --seq-len 2048) or --batch-unit tokens."),
    ("`mapping` loss=<column>", "fit final", "--map loss=<column>"),
    ("pass `shape`/`peak`/`warmup_steps`/`total_steps` or `config` TRAINER-CONFIG.", "fit curves",
     "pass --schedule/--lr/--warmup/--total-steps or --config TRAINER-CONFIG."),
    ("give `total_steps`.", "schedule", "give --steps."),
    ("step 5000 (`steps`) is past", "predict", "step 5000 (--at) is past"),
    ("or `base['width']`)", "transfer", "or --base-width)"),
    ("the width scaling is in `multiplier`; `unknown_name` stays", "transfer",
     "the width scaling is in `multiplier`; `unknown_name` stays"),
    ("no backticks at all: --keep as it is", "fit sweep", "no backticks at all: --keep as it is"),
])
def test_the_cli_writes_each_name_as_its_flag(text, command, printed):
    assert flags.cli_text(text, command) == printed


def test_cli_data_rewrites_nested_strings_and_keys_and_keeps_the_rest():
    data = {"notes": ["`n_boot` N", ("`holdout`",)], "dropped": {"runs (`drop_highest_loss`)": 3}, "x": 1.5,
            "a": np.arange(2)}
    out = flags.cli_data(data, "fit final")
    assert out["notes"] == ["--bootstrap N", ("--holdout",)]
    assert out["dropped"] == {"runs (--drop-highest-loss)": 3} and out["x"] == 1.5 and out["a"] is data["a"]


def test_outside_a_command_the_shared_flags_apply():
    assert flags.current_command() == ""
    assert flags.cli_text("`total_steps`") == "--steps"
    assert flags.flag("total_steps", "fit curves") == "--total-steps"


# -- every name the library puts in backticks has a flag (or is listed as no parameter) --------


def _strings(path: Path):
    """(line, text) of every string in ``path`` that is not a docstring; an f-string's literal parts."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docs.add(id(body[0].value))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            yield node.lineno, node.value


LIBRARY = sorted(p for p in PKG.rglob("*.py") if "cli" not in p.relative_to(PKG).parts)


def test_every_backticked_name_in_a_library_message_has_a_flag():
    known = set(flags.FLAGS) | {n for m in flags.COMMAND_FLAGS.values() for n in m} | set(flags.NOT_FLAGS)
    unknown = [f"{path.relative_to(ROOT)}:{line}: `{name}`" for path in LIBRARY for line, text in _strings(path)
               for name in flags.NAME.findall(text) if name not in known]
    assert unknown == [], ("names the library gives in backticks that hpadvisor/cli/flags.py does not map to a "
                           "flag (add them to FLAGS, or to NOT_FLAGS if they are not parameters):\n" + "\n".join(unknown))


def test_every_flag_in_the_mapping_is_an_option_of_some_command():
    import typer

    from hpadvisor.cli.app import app

    options: dict[str, set[str]] = {}

    def walk(cmd, path):
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, [*path, name])
        if not hasattr(cmd, "commands"):
            options[" ".join(path)] = {o for p in cmd.params for o in getattr(p, "opts", ())}

    walk(typer.main.get_command(app), [])
    every = set().union(*options.values())
    assert sorted(set(flags.FLAGS.values()) - every) == []
    for command, names in flags.COMMAND_FLAGS.items():
        assert set(names.values()) <= options[command], command


# -- docs/api.md: the documented API, every example run --------------------------------------


@pytest.mark.slow
def test_docs_api_examples_run_as_printed(monkeypatch):
    import doctest

    monkeypatch.chdir(ROOT)  # the examples read data/ from the repository root
    result = doctest.testfile(str(ROOT / "docs" / "api.md"), module_relative=False, verbose=False,
                              optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 40 and result.failed == 0, result


def test_the_documented_names_are_exported_lazily():
    import subprocess
    import sys

    import hpadvisor

    documented = ("recommend", "check", "fit_curves", "fit_final", "fit_sweep", "fit_batch", "predict", "transfer")
    text = (ROOT / "docs" / "api.md").read_text()
    for name in documented:
        assert name in hpadvisor.__all__ and callable(getattr(hpadvisor, name)), name
        assert f"## {name}\n" in text, name
    # importing the package loads none of them (the command line's start-up stays cheap)
    code = "import sys, hpadvisor; print(sorted(m for m in sys.modules if m.startswith('hpadvisor')))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "['hpadvisor']"


def test_a_package_named_like_its_function_stays_callable_after_its_modules_are_imported():
    """``import hpadvisor.recommend.api`` binds the package at ``hpadvisor.recommend``: the package
    itself is callable, so ``hpadvisor.recommend(spec)`` works whichever was imported first."""
    import subprocess
    import sys

    code = ("import hpadvisor.recommend.api, hpadvisor.check.rules, hpadvisor.transfer.plan, hpadvisor\n"
            "spec = hpadvisor.spec_from(params='1.3B', tokens='26B', seq_len=2048)\n"
            "print(hpadvisor.recommend(spec)['peak_lr'].law)\n"
            "print(hpadvisor.transfer({'width': 256, 'depth': 4, 'lr': 1e-3}, {'width': 512, 'depth': 4}).width_multiplier)\n"
            "import hpadvisor.recommend.advisor as advisor\n"
            "print(advisor.recommend is not None, callable(hpadvisor.check))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert out.split() == ["steplaw", "2.0", "True", "True"]
