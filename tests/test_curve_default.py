"""The default curve law of ``fit curves`` and ``fit_curves``: one law for every dataset, the one the
rule of 2026-12-08 picks from the cross-lab table in docs/curves.md (benchmarks/curves_crosslab.md,
"The product default (rule of 2026-12-08)"; the rule was written after that table had been seen).
The rule's arithmetic is ``benchmarks/curves_default.py``."""

from __future__ import annotations

import inspect
import json

import pytest

from tests.conftest import benchmark_module, shared_data


def _rule():
    return benchmark_module("curves_default", "curves_default_bench")


def test_the_rule_scores_the_cross_lab_table():
    rule = _rule()
    score = rule.scores()
    # the mean over (a)-(f) of each protocol's mean final-loss error, %, from docs/curves.md's table
    assert score == pytest.approx({"multipower": 0.7371, "annealing": 0.8578, "noise-convolution": 0.3981,
                                   "ann+nc": 0.5468}, abs=1e-4)
    assert rule.choose(score) == "noise-convolution"


def test_the_rule_takes_single_laws_only_and_a_tie_goes_to_the_cheaper_fit():
    choose = _rule().choose
    assert choose({"multipower": 0.73, "annealing": 0.86, "noise-convolution": 0.40, "ann+nc": 0.10}) == "noise-convolution"
    assert choose({"multipower": 0.41, "annealing": 0.86, "noise-convolution": 0.40}) == "multipower"  # within 5%
    assert choose({"multipower": 0.43, "annealing": 0.86, "noise-convolution": 0.40}) == "noise-convolution"
    assert choose({"multipower": 0.41, "annealing": 0.40, "noise-convolution": 0.40}) == "annealing"


def test_the_cli_and_the_python_default_are_the_rules_law(cli):
    from hpadvisor.cli.fit_curves_cmd import fit_curves_command
    from hpadvisor.fitting.curves import fit_curves

    rule = _rule()
    python_default = inspect.signature(fit_curves).parameters["law"].default
    cli_default = inspect.signature(fit_curves_command).parameters["law"].default
    assert python_default == cli_default == rule.choose(rule.scores()) == "noise-convolution"
    shown = " ".join(cli("fit", "curves", "--help").stdout.split())
    assert "[default: noise- convolution]" in shown or "[default: noise-convolution]" in shown


@pytest.mark.realdata
def test_fit_curves_without_law_writes_the_default_law(cli, tmp_path):
    folder = shared_data("mpl_schedules", "csv_25")
    out = tmp_path / "law.yaml"
    r = cli("fit", "curves", *(str(folder / f"{n}.csv") for n in ("constant_24000", "wsdcon_9")), "--warmup", "2160",
            "--no-intervals", "--out", str(out), "--format", "json")
    assert r.exit_code == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["law"] == "noise-convolution@law" and summary["form"] == "noise-convolution"
    assert out.read_text().count("noise-convolution@law") == 1
