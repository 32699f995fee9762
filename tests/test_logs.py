"""Training logs: aliases, several runs per file, blank losses, divergence, ordering, bad files."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hpadvisor.errors import DataError, HpAdvisorError
from hpadvisor.logs import read_log


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_wandb_aliases_and_blank_losses(tmp_path):
    rows = ["_step,train/loss,learning_rate"]
    for s in range(0, 101):
        rows.append(f"{s},{'' if s % 10 else 3 - s / 1000},{1e-3 * min(1, s / 10)}")
    (run,) = read_log(_write(tmp_path, "w.csv", "\n".join(rows) + "\n"))
    assert run.steps.tolist() == list(range(0, 101, 10))
    assert run.lr.size == 101 and run.lr_sequence()[50] == pytest.approx(1e-3)
    assert any("without a loss" in n for n in run.notes)
    assert len(run.sha256) == 64


def test_run_column_jsonl_and_map(tmp_path):
    lines = [f'{{"iter": {s}, "lm": {3 - s / 100}, "lr": 0.001, "run_name": "{r}"}}'
             for r in ("a", "b") for s in range(1, 8)]
    runs = read_log(_write(tmp_path, "r.jsonl", "\n".join(lines)), mapping={"loss": "lm"})
    assert [r.name for r in runs] == ["a", "b"]
    assert runs[1].loss[0] == pytest.approx(2.99)


def test_nan_inf_and_spikes_are_reported_and_excluded(tmp_path):
    loss = 3 - np.arange(40) / 100
    text = ["step,loss,lr"] + [f"{s * 10},{v},1e-3" for s, v in enumerate(loss)]
    text[11] = "100,inf,1e-3"
    text[21] = "200,4.5,1e-3"  # a spike
    (run,) = read_log(_write(tmp_path, "d.csv", "\n".join(text) + "\n"))
    assert {s for s, _ in run.excluded} == {100, 200}
    assert 100 not in run.steps and 200 not in run.steps
    assert any("excluded 2 diverged points" in n for n in run.notes)


def test_unsorted_sorted_duplicates_merged_or_rejected(tmp_path):
    (run,) = read_log(_write(tmp_path, "u.csv", "step,loss,lr\n20,2.9,1e-3\n10,3.0,1e-3\n10,3.0,1e-3\n"))
    assert run.steps.tolist() == [10, 20]
    assert any("sorted" in n for n in run.notes) and any("merged" in n for n in run.notes)
    with pytest.raises(DataError, match="step 10 appears 2 times with different loss"):
        read_log(_write(tmp_path, "v.csv", "step,loss,lr\n10,3.0,1e-3\n10,2.5,1e-3\n"))


def test_missing_loss_column_names_what_was_found(tmp_path):
    with pytest.raises(DataError, match=r"no loss column .*Found: step, lr, accuracy.*--map loss="):
        read_log(_write(tmp_path, "n.csv", "step,lr,accuracy\n1,1e-3,0.5\n"))


def test_negative_lr_is_rejected(tmp_path):
    with pytest.raises(DataError, match="must be >= 0"):
        read_log(_write(tmp_path, "neg.csv", "step,loss,lr\n1,3.0,-1e-3\n"))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=200))
def test_arbitrary_text_raises_only_our_errors(tmp_path, text):
    p = tmp_path / "fuzz.csv"
    p.write_text(text)
    try:
        read_log(p)
    except HpAdvisorError:
        pass


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.one_of(st.integers(-3, 50), st.floats(allow_nan=True)),
                          st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.just("")),
                          st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.just(""))), max_size=30))
def test_arbitrary_numbers_raise_only_our_errors(tmp_path, rows):
    p = tmp_path / "fuzz2.csv"
    p.write_text("step,loss,lr\n" + "".join(f"{a},{b},{c}\n" for a, b, c in rows))
    try:
        for run in read_log(p):
            if run.has_lr:
                run.lr_sequence()
    except HpAdvisorError:
        pass


def test_parquet_log_with_aliases_and_runs(tmp_path):
    pytest.importorskip("pyarrow", reason="pyarrow not installed (the parquet extra)")
    import pandas as pd

    steps = np.arange(0, 2001, 100)
    frame = pd.concat([
        pd.DataFrame({"trainer/global_step": steps, "train/loss": 3.0 - steps / 1e4 - k / 10,
                      "learning_rate": np.full(steps.size, 1e-3), "run": name})
        for k, name in enumerate(("a", "b"))
    ])
    path = tmp_path / "two.parquet"
    frame.to_parquet(path)
    runs = read_log(path)
    assert [r.name for r in runs] == ["a", "b"]
    assert runs[1].loss[-1] == pytest.approx(3.0 - 0.2 - 0.1)
    assert runs[0].steps.tolist() == steps.tolist()


def test_parquet_errors_are_one_line(tmp_path, monkeypatch):
    bad = _write(tmp_path, "bad.parquet", "not parquet")
    if __import__("importlib").util.find_spec("pyarrow") is not None:
        with pytest.raises(DataError, match="cannot be parsed as PARQUET") as e:
            read_log(bad)
        assert "\n" not in str(e.value)
    import sys

    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as if not installed
    with pytest.raises(DataError, match=r"needs pyarrow: pip install 'hpadvisor\[parquet\]'"):
        read_log(bad)


def test_a_diverging_end_is_excluded_and_the_steep_start_kept(tmp_path):
    # the end of a real curve (MPL 400M cosine_24000) with its last three points diverging
    import pandas as pd

    from tests.conftest import shared_data

    d = pd.read_csv(shared_data("mpl_schedules", "csv_400", "cosine_24000.csv"))
    d.loc[d.index[-3:], "loss"] *= [1.3, 1.6, 2.5]
    d.to_csv(tmp_path / "div.csv", index=False)
    (run,) = read_log(tmp_path / "div.csv")
    assert {s for s, _ in run.excluded} == set(d.step.iloc[-3:])
    d.loc[d.index[-3:-1], "loss"] /= [1.3, 1.6]  # only the last point: a spike
    d.to_csv(tmp_path / "last.csv", index=False)
    (run,) = read_log(tmp_path / "last.csv")
    assert [s for s, _ in run.excluded] == [int(d.step.iloc[-1])]
    clean = pd.read_csv(shared_data("mpl_schedules", "csv_400", "cosine_24000.csv"))
    clean.to_csv(tmp_path / "clean.csv", index=False)
    (run,) = read_log(tmp_path / "clean.csv")  # the steep first points are not spikes
    assert run.excluded == () and run.steps.size == len(clean)


def test_an_empty_lr_column_is_named_as_such(cli, tmp_path):
    log = _write(tmp_path, "blank.csv", "step,lr,loss\n" + "".join(f"{s},,{3 - s / 1e4}\n" for s in range(100, 1500, 100)))
    (run,) = read_log(log)
    assert run.lr_column and not run.has_lr
    r = cli("fit", "curves", str(log), "--out", str(tmp_path / "o.yaml"))
    assert r.exit_code == 2 and "the lr column has no values and no schedule was given" in r.stderr
