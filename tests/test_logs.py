"""Training logs: aliases, several runs per file, blank losses, divergence, ordering, bad files."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hpadvisor.errors import DataError, HpAdvisorError
from hpadvisor.io.logs import read_log


def _read_fully(path) -> None:
    """Read a log and build each run's lr: any failure must be one of our errors."""
    try:
        for run in read_log(path):
            if run.has_lr:
                run.lr_sequence()
    except HpAdvisorError:
        pass


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
    assert any("90 rows with a blank loss (not evaluated there)" in n for n in run.notes)
    assert run.excluded == ()
    assert run.sha256 == hashlib.sha256((tmp_path / "w.csv").read_bytes()).hexdigest()


@pytest.mark.parametrize("step,loss,lr", [
    ("step", "loss_metrics/global_avg_loss", "lr"),              # torchtitan
    ("_step", "train/CrossEntropyLoss", "optim/learning_rate_group0"),  # OLMo via W&B
    ("iteration", "lm loss", "learning-rate"),                 # Megatron's TensorBoard scalars
    ("trainer/global_step", "train/loss_step", "lr-AdamW"),     # Lightning
])
def test_trainer_log_names_are_recognised(tmp_path, step, loss, lr):
    # torchtitan also logs loss_metrics/global_max_loss: it must not be taken for the loss
    text = [f'"{step}","loss_metrics/global_max_loss","{loss}","{lr}"'] + [
        f"{s},{9 - s / 100},{3 - s / 1000},1e-3" for s in range(10, 110, 10)]
    (run,) = read_log(_write(tmp_path, "t.csv", "\n".join(text) + "\n"))
    assert run.loss[0] == pytest.approx(2.99) and run.steps[-1] == 100 and run.lr[0] == 1e-3


def test_a_wandb_chart_export_is_one_run_per_column(tmp_path):
    text = ("Step,run-a - train/loss,run-a - train/loss__MIN,run-a - train/loss__MAX,run-a - learning_rate,"
            "run-b - train/loss,run-b - learning_rate\n"
            "100,4.0,3.9,4.1,1e-3,4.1,2e-3\n200,3.6,3.5,3.7,1e-3,3.7,2e-3\n300,3.4,,,1e-3,,2e-3\n400,3.3,3.2,3.4,5e-4,3.4,1e-3\n")
    a, b = read_log(_write(tmp_path, "wb.csv", text))
    assert (a.name, b.name) == ("run-a", "run-b")
    assert a.loss.tolist() == [4.0, 3.6, 3.4, 3.3] and b.loss.tolist() == [4.1, 3.7, 3.4]
    assert a.lr.tolist() == [1e-3, 1e-3, 1e-3, 5e-4] and b.lr.tolist() == [2e-3, 2e-3, 2e-3, 1e-3]
    assert a.notes[0] == "a W&B chart export: 2 runs (run-a, run-b), one column each; __MIN/__MAX columns ignored."
    # a metric named by --map; no lr column at all
    (c,) = read_log(_write(tmp_path, "wb2.csv", "Step,exp 7 - lm\n10,3.0\n20,2.9\n"), mapping={"loss": "lm"})
    assert c.name == "exp 7" and c.loss.tolist() == [3.0, 2.9] and not c.lr_column
    # a file that also has a plain loss column is read as it is
    (d,) = read_log(_write(tmp_path, "plain.csv", "Step,loss,x - loss\n10,3.0,9\n20,2.9,9\n"))
    assert d.loss.tolist() == [3.0, 2.9]


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


LOSSES = [3.0 - s / 100 for s in range(12)]


def _nan_log_frames():
    """The same log in every format: NaN at step 3 (diverged), null/blank at step 5, NaN at 10-11."""
    import math

    loss = [float("nan") if s in (3, 10, 11) else (None if s == 5 else v) for s, v in enumerate(LOSSES)]
    return [{"step": s, "loss": v, "lr": 1e-3} for s, v in enumerate(loss)], math


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl", "json", "parquet"])
def test_a_nan_loss_is_diverged_and_a_blank_one_not_evaluated(tmp_path, fmt):
    rows, math = _nan_log_frames()
    path = tmp_path / f"n.{fmt}"
    if fmt in ("csv", "tsv"):
        sep = "," if fmt == "csv" else "\t"
        cell = {None: "NA" if fmt == "tsv" else ""}
        lines = [sep.join(("step", "loss", "lr"))] + [
            sep.join((str(r["step"]), cell.get(r["loss"], "NaN" if r["loss"] is not None and math.isnan(r["loss"])
                                                  else str(r["loss"])), "0.001")) for r in rows]
        path.write_text("\n".join(lines) + "\n")
    elif fmt in ("jsonl", "json"):
        import json

        dumps = [json.dumps(r) for r in rows]  # writes NaN for nan and null for None
        path.write_text("\n".join(dumps) if fmt == "jsonl" else "[" + ",".join(dumps) + "]")
    else:
        pytest.importorskip("pyarrow", reason="pyarrow not installed (the parquet extra)")
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.table({"step": [r["step"] for r in rows], "lr": [r["lr"] for r in rows],
                                 "loss": pa.array([r["loss"] for r in rows], pa.float64())}), path)
    (run,) = read_log(path)
    assert [s for s, _ in run.excluded] == [3, 10, 11]
    assert run.steps.tolist() == [0, 1, 2, 4, 6, 7, 8, 9]
    assert run.loss.tolist() == pytest.approx([LOSSES[s] for s in run.steps])
    assert "1 row with a blank loss (not evaluated there) was not fitted." in run.notes
    assert any("not a finite positive number from step 10 to the end: the run diverged there" in n
               for n in run.notes)


@pytest.mark.parametrize("text", ["[" * 100_000 + "NaN" + "]" * 100_000, '{"a":' * 5000 + "NaN" + "}" * 5000])
def test_deeply_nested_json_is_one_error(tmp_path, text):
    with pytest.raises(DataError, match="cannot be parsed as JSON"):
        read_log(_write(tmp_path, "deep.json", text))
    with pytest.raises(DataError, match="cannot be parsed as JSONL"):
        read_log(_write(tmp_path, "deep.jsonl", text))


def test_na_words_are_missing_and_other_words_are_errors(tmp_path):
    (run,) = read_log(_write(tmp_path, "w.csv", "step,loss\n1,3.0\n2,null\n3,N/A\n4,2.9\n5,none\n6,2.8\n"))
    assert run.steps.tolist() == [1, 4, 6] and run.excluded == ()
    with pytest.raises(DataError, match=r"row 3: loss = 'diverged' is not a number"):
        read_log(_write(tmp_path, "x.csv", "step,loss\n1,3.0\n2,diverged\n"))


def test_a_nan_beside_a_number_at_the_same_step_is_merged_away(tmp_path):
    (run,) = read_log(_write(tmp_path, "m.csv", "step,loss,lr\n1,3.0,1e-3\n2,nan,1e-3\n2,2.9,1e-3\n3,2.8,1e-3\n"))
    assert run.steps.tolist() == [1, 2, 3] and run.excluded == ()


def test_unsorted_sorted_duplicates_merged_or_rejected(tmp_path):
    (run,) = read_log(_write(tmp_path, "u.csv", "step,loss,lr\n20,2.9,1e-3\n10,3.0,1e-3\n10,3.0,1e-3\n"))
    assert run.steps.tolist() == [10, 20]
    assert any("sorted" in n for n in run.notes) and any("merged" in n for n in run.notes)
    with pytest.raises(DataError, match="step 10 appears 2 times with different loss"):
        read_log(_write(tmp_path, "v.csv", "step,loss,lr\n10,3.0,1e-3\n10,2.5,1e-3\n"))


def test_missing_loss_column_names_what_was_found(tmp_path):
    with pytest.raises(DataError, match=r"no loss column .*Found: step, lr, accuracy.*`mapping` loss="):
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


CELL_WORDS = st.sampled_from(["", "nan", "NaN", "-nan", "NA", "null", "None", "N/A", "inf", "-inf", "x", " 2.5 "])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.one_of(st.integers(-3, 50), st.floats(allow_nan=True)),
                          st.one_of(st.floats(allow_nan=True, allow_infinity=True), CELL_WORDS),
                          st.one_of(st.floats(allow_nan=True, allow_infinity=True), CELL_WORDS),
                          CELL_WORDS), max_size=30))
def test_arbitrary_numbers_raise_only_our_errors(tmp_path, rows):
    p = tmp_path / "fuzz2.csv"
    p.write_text("step,loss,lr,run\n" + "".join(f"{a},{b},{c},{r}\n" for a, b, c, r in rows))
    _read_fully(p)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.fixed_dictionaries({}, optional={
    "step": st.one_of(st.integers(-3, 50), st.floats(allow_nan=True, allow_infinity=True), st.none(), CELL_WORDS),
    "loss": st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.none(), CELL_WORDS),
    "lr": st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.none(), CELL_WORDS),
    "run": st.one_of(st.none(), CELL_WORDS, st.integers())}), max_size=20))
def test_arbitrary_jsonl_raises_only_our_errors(tmp_path, records):
    import json

    p = tmp_path / "fuzz.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in records))  # NaN, Infinity and null literals included
    _read_fully(p)


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


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(["a - train/loss", "a - train/loss__MIN", "b - loss", "b - lr", " - loss", "a - ",
                                 "x - y - loss", "c - learning_rate"]), min_size=1, max_size=5, unique=True),
       st.lists(st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True), CELL_WORDS, st.integers(-5, 50)),
                         min_size=6, max_size=6), max_size=8))
def test_arbitrary_wandb_exports_raise_only_our_errors(tmp_path, headers, rows):
    p = tmp_path / "wb.csv"
    cols = ["Step", *headers]
    p.write_text(",".join(cols) + "\n" + "".join(",".join(str(v) for v in r[: len(cols)]) + "\n" for r in rows))
    _read_fully(p)


def test_a_remark_shared_by_several_runs_is_said_once():
    from hpadvisor.fitting.curves import group_notes

    said = [("a.csv", "a", "lr logged from step 10."), ("b.csv", "b", "sorted them."),
            ("c.csv", "c", "lr logged from step 10."), ("d.csv", "x [y]", "lr logged from step 10.")]
    assert group_notes(said) == ["3 runs (a, c, x [y]): lr logged from step 10.", "b.csv [b]: sorted them."]


def _tb_log(folder, rows):
    """Write TensorBoard scalars {step: {tag: value}} into ``folder`` (tensorboard's own writer)."""
    pytest.importorskip("tensorboard", reason="tensorboard not installed (the tensorboard extra)")
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    folder.mkdir(parents=True, exist_ok=True)
    writer = EventFileWriter(str(folder))
    for t, (step, tags) in enumerate(rows):
        writer.add_event(Event(wall_time=1.7e9 + t, step=step, summary=Summary(
            value=[Summary.Value(tag=k, simple_value=v) for k, v in tags.items()])))
    writer.close()
    return folder


def test_a_tensorboard_log_is_read_by_its_megatron_tag_names(tmp_path):
    rows = [(s, {"lm loss": 3 - s / 1000, "learning-rate": 1e-3, **({"validation loss": 9.0} if s % 50 == 0 else {})})
            for s in range(10, 210, 10)]
    rows.append((100, {"lm loss": 2.85}))  # logged twice at a step: the later value, as TensorBoard shows
    folder = _tb_log(tmp_path / "gpt-350m", rows)
    (run,) = read_log(folder)
    assert run.name == "gpt-350m" and run.steps.tolist() == list(range(10, 210, 10))
    assert run.loss[9] == pytest.approx(2.85) and run.loss[0] == pytest.approx(2.99, rel=1e-6)
    (event_file,) = list(folder.iterdir())
    assert run.lr[0] == pytest.approx(1e-3)
    assert run.sha256 == hashlib.sha256(event_file.read_bytes()).hexdigest()  # the bytes read, no others
    (same,) = read_log(event_file)
    assert same.name == "gpt-350m" and same.loss.tolist() == run.loss.tolist() and same.sha256 == run.sha256


def test_tf2_tensor_summaries_are_read_too(tmp_path):
    pytest.importorskip("tensorboard", reason="tensorboard not installed (the tensorboard extra)")
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata
    from tensorboard.summary.writer.event_file_writer import EventFileWriter
    from tensorboard.util.tensor_util import make_tensor_proto

    folder = tmp_path / "jax-run"
    folder.mkdir()
    writer = EventFileWriter(str(folder))
    meta = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="scalars"))
    for s in range(10, 60, 10):
        writer.add_event(Event(wall_time=1.7e9 + s, step=s, summary=Summary(value=[
            Summary.Value(tag="train/loss", tensor=make_tensor_proto(3.0 - s / 100), metadata=meta),
            Summary.Value(tag="learning_rate", tensor=make_tensor_proto(1e-3), metadata=meta),
            Summary.Value(tag="histogram-like", tensor=make_tensor_proto([1.0, 2.0]), metadata=meta)])))
    writer.close()
    (run,) = read_log(folder)
    assert run.name == "jax-run" and run.steps.tolist() == [10, 20, 30, 40, 50]
    assert run.loss.tolist() == pytest.approx([2.9, 2.8, 2.7, 2.6, 2.5], rel=1e-6) and run.lr[0] == pytest.approx(1e-3)


def test_tensorboard_errors_are_one_line(tmp_path, monkeypatch):
    empty = _tb_log(tmp_path / "empty", [(1, {})])
    with pytest.raises(DataError, match="holds no TensorBoard scalars"):
        read_log(empty)
    (tmp_path / "plain").mkdir()
    with pytest.raises(DataError, match="is a directory, not a file"):
        read_log(tmp_path / "plain")  # no event file in it or in a subdirectory
    no_loss = _tb_log(tmp_path / "acc", [(1, {"accuracy": 0.5})])
    with pytest.raises(DataError, match=r"has no loss column .*Found: step, accuracy"):
        read_log(no_loss)
    import sys

    monkeypatch.setitem(sys.modules, "tensorboard.backend.event_processing.event_accumulator", None)
    with pytest.raises(DataError, match=r"needs tensorboard: pip install 'hpadvisor\[tensorboard\]'"):
        read_log(no_loss)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300))
def test_arbitrary_bytes_as_an_event_file_raise_only_our_errors(tmp_path, data):
    pytest.importorskip("tensorboard", reason="tensorboard not installed (the tensorboard extra)")
    p = tmp_path / "events.out.tfevents.1.host"
    p.write_bytes(data)
    _read_fully(p)


def test_a_tensorboard_log_root_is_one_run_per_subdirectory(tmp_path):
    for name, shift in (("lr-3e-4", 0.0), ("lr-1e-3", 0.1)):
        _tb_log(tmp_path / "tb" / name, [(s, {"lm loss": 3 - s / 1000 + shift, "learning-rate": 1e-3})
                                         for s in range(10, 110, 10)])
    (tmp_path / "tb" / "notes.txt").write_text("not a run")
    runs = read_log(tmp_path / "tb")
    assert [r.name for r in runs] == ["lr-1e-3", "lr-3e-4"]
    assert runs[0].loss[0] == pytest.approx(3.09, rel=1e-6) and runs[1].loss[0] == pytest.approx(2.99, rel=1e-6)


def test_a_log_left_with_too_few_points_after_divergence_says_how_many_were_excluded(cli, tmp_path):
    f = tmp_path / "diverged.csv"
    f.write_text("step,lr,loss\n" + "".join(f"{s},1e-3,{'nan' if s > 100 else 3.0 - s / 1000}\n"
                                              for s in range(0, 1000, 100)))
    r = cli("fit", "curves", str(f), "--out", str(tmp_path / "law.yaml"))
    assert r.exit_code == 2
    assert ("1 loss points for 8 parameters of the noise-convolution law (8 excluded as diverged or spikes): "
            "give more points") in r.stderr  # the default law's eight free constants


def test_a_nan_lr_is_an_error_not_a_gap(tmp_path):
    """A blank lr cell is a step without one (interpolated over); a NaN is a broken value."""
    from hpadvisor.schedules import read_trace

    log = _write(tmp_path, "log.csv", "step,lr,loss\n0,0,10\n100,nan,5\n200,1e-4,4\n300,1e-4,3.9\n")
    with pytest.raises(DataError, match="the lr at step 100 is NaN"):
        read_log(log)
    trace = _write(tmp_path, "trace.csv", "step,lr\n0,0\n100,nan\n300,1e-4\n")
    with pytest.raises(DataError, match="the lr at step 100 is NaN"):
        read_trace(str(trace))
    steps, lr = read_trace(str(_write(tmp_path, "blank.csv", "step,lr\n0,0\n100,\n300,1e-4\n")))
    assert steps.tolist() == [0, 300] and lr.tolist() == [0, 1e-4]


@pytest.mark.parametrize("name,text,said", [
    ("a.jsonl", '{"step": 1, "loss": 3}\n[1, 2, 3]\n', "a.jsonl', line 2: a JSON Lines row must be an object"),
    ("b.jsonl", '{"step": 1, "loss": 3}\n{"step": 2,\n', "line 2: not JSON"),
    ("c.json", '[{"step": 1, "loss": 3}, 5]', "a JSON table must be a list of objects"),
    ("d.json", '{"step": 1}', "a JSON table must be a list of objects"),
    ("e.jsonl", '{"step": 1, "loss": "x"}\n', "record 1: loss = 'x' is not a number"),
])
def test_json_rows_that_are_not_objects_are_named_by_line(tmp_path, name, text, said):
    """These raised TypeError inside pandas (exit 3) or gave pandas' own words."""
    with pytest.raises(DataError, match=said.replace("[", r"\[").replace("(", r"\(")):
        read_log(_write(tmp_path, name, text))


@pytest.mark.parametrize("tail,lr_rises,excluded_from", [
    ([7.5] * 21, False, 400),                           # blew up and stayed up
    ([2.9 * 1.5, 2.9 * 2, 2.9 * 3, 2.9 * 4], False, 400),  # a gradual rise to the end
    ([2.9 * 1.02, 2.9 * 1.04, 2.9 * 1.05], False, None),   # within 10% of its best: not diverged
    ([2.9 * 1.3, 2.9 * 1.3, 2.9 * 1.3], True, None),        # the lr rose (a WSD-S rewarm): not diverged
])
def test_a_run_that_blows_up_and_stays_up_is_excluded_from_there(tmp_path, tail, lr_rises, excluded_from):
    """The running median follows a sustained rise, so the spike filter kept such tails (R^2 -0.22)."""
    base = [3.3 - s / 100 for s in range(40)]
    lr = [1e-3] * 40 + [(2e-3 if lr_rises else 1e-3)] * len(tail)
    rows = [f"{s * 10},{v},{r}" for s, (v, r) in enumerate(zip(base + tail, lr, strict=True))]
    (run,) = read_log(_write(tmp_path, "d.csv", "step,loss,lr\n" + "\n".join(rows) + "\n"))
    if excluded_from is None:  # (a noiseless curve's small rise may still be a spike: another rule)
        assert not any("stayed more than 10% above its best" in n for n in run.notes)
        assert not any("after the run diverged" in why for _, why in run.excluded)
    else:
        assert min(s for s, _ in run.excluded) == excluded_from and run.steps.max() == excluded_from - 10
        assert any(f"at step {excluded_from} and stayed more than 10% above its best" in n for n in run.notes)


def test_a_nan_step_in_a_jsonl_trace_is_named_by_its_record(tmp_path):
    from hpadvisor.schedules import read_trace

    path = _write(tmp_path, "t.jsonl", '{"step": 0, "lr": 0}\n{"step": NaN, "lr": 1e-4}\n{"step": 300, "lr": 1e-4}\n')
    with pytest.raises(DataError, match="the step at record 2 is NaN"):
        read_trace(str(path))


def test_the_trainers_global_step_wins_over_wandbs_log_counter(tmp_path):
    """HF's WandbCallback: _step counts log calls (eval rows too); train/global_step is the optimizer
    step. _step was taken (steps 0-187 for a 24k-step run) and the fit looked perfect."""
    rows = ["_step,train/global_step,train/loss,train/learning_rate"]
    for i, s in enumerate(range(100, 2100, 100)):
        rows.append(f"{i},{s},{3 - s / 10000},1e-3")
    (run,) = read_log(_write(tmp_path, "h.csv", "\n".join(rows) + "\n"))
    assert run.steps.tolist() == list(range(100, 2100, 100))
    assert any("step from 'train/global_step'" in n for n in run.notes)


def test_a_chart_export_keeps_runs_whose_names_hold_a_dash(tmp_path):
    text = ("Step,llama-400m - cos - train/loss,llama-400m - cos - train/loss__MIN,b - train/loss\n"
            + "".join(f"{s},{3 - s / 1e4},{3 - s / 1e4},{3.1 - s / 1e4}\n" for s in range(10, 200, 10)))
    runs = read_log(_write(tmp_path, "chart.csv", text), require_lr=False)
    assert [r.name for r in runs] == ["llama-400m - cos", "b"]


def test_rows_of_another_metric_without_a_step_are_skipped(tmp_path):
    """HF's W&B history: eval rows hold eval/loss only, train/global_step blank: they were refused."""
    text = ("_step,train/global_step,train/loss,train/learning_rate,eval/loss\n0,10,3.0,1e-3,\n1,,,,3.1\n"
            "2,20,2.9,1e-3,\n3,,,,3.0\n4,30,2.8,1e-3,\n")
    (run,) = read_log(_write(tmp_path, "wb.csv", text))
    assert run.steps.tolist() == [10, 20, 30]
    assert any("2 rows without a step, a loss or an lr" in n for n in run.notes)
    with pytest.raises(DataError, match="has a loss or an lr but no step number"):
        read_log(_write(tmp_path, "bad.csv", "step,loss,lr\n1,3.0,1e-3\n,2.9,1e-3\n"))
