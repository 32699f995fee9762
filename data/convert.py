"""Rewrite three shipped datasets as tables that `hpadvisor fit ...` reads without options.

Run from the repository root:

    python data/convert.py

It reads only the original files under data/ (never changes them) and (re)writes:

* data/gemstones/hpadvisor/ladder.csv and ladder_hot.csv  -- for `hpadvisor fit final`.
  The Gemstones JSONL files name the parameter count `params_active_precise`, which `fit final`
  does not recognise (it would need `--map N=params_active_precise`). The converted tables have
  the columns run, width, depth, params, tokens, loss (loss = the authors' `final_loss`, the loss
  at that checkpoint). ladder.csv comes from wandb_df_for_fitting_cool_end.jsonl: each row is a
  run cooled down to lr 0 at that token count, i.e. a finished training run, which is what the
  Chinchilla form describes. ladder_hot.csv comes from wandb_df_for_fitting_hot.jsonl: the
  constant-lr checkpoints every ~10B tokens (no cooldown), kept for comparison.
  Values are copied unchanged; rows are sorted by (params, width, depth, tokens).

* data/porian_isoflops/hpadvisor/<dataset>-<hparams>-<warmup>warmup-<decay>-<paramcount>-<split>.csv
  -- for `hpadvisor fit final`. isoflop_points.csv mixes 15 training setups (two datasets, base or
  tuned hyperparameters, long or short warmup, three decay styles, three parameter counts, train or
  validation loss); a law fitted across setups means nothing. One file per setup, with the columns
  params (or non_embedding_params when the setup counts Kaplan's non-embedding parameters, so that
  `fit final` records the right convention), tokens, flops, loss. The "attention" count (FLOPs with
  attention / 6) has no column name of its own in hpadvisor; it is written as `params` and
  hpadvisor will call it total parameters. Values unchanged; rows sorted by (flops, N).

* data/lr_scheduling_sweep/hpadvisor/<dataset>_<size>[_<series>]/<tag>_lr<peak>_T<steps>.csv
  -- for `hpadvisor fit curves`. curves.csv and val.csv hold 235 runs in long form, and a branch
  (a WSD cooldown started from another run's checkpoint) holds only the steps after the branch
  point. For the `scaling` series (69 runs: 8 SlimPajama sizes, 3 OpenWebText2 sizes; folder
  `<dataset>_<size>`), the `horizons` series (7 runs, 210m; `slimpajama_210m_horizons`) and the
  `lrsweep` series (117 runs, 124m; `slimpajama_124m_lrsweep`) each run gets one CSV with its full
  history, joined to its parent as the dataset's SOURCE.md describes (the parent's rows before the
  branch's first step, then the branch's own rows, recursively). Columns: step, lr, loss.
    - lr: the logged lr at every logged training step (every 50 steps; every 10 for `horizons`).
      A constant run logs lr 0 at its last step T (the schedule's value past the end, never used
      for an update); that one row is left out.
    - loss: the in-training validation loss (val.csv: the same 32 validation batches every 200
      steps), blank on rows without an evaluation. The per-batch training loss, far noisier, is
      not written (it stays in curves.csv). The evaluation before training (step 0) is left out.
      Where an evaluation falls on a step whose training row is missing in the source (a gap in
      the log), that row has a blank lr; hpadvisor interpolates the lr there.
  Values are the source text, unchanged (6 significant digits).

Deterministic: no randomness, fixed sort orders, fixed float formatting. Needs pandas only.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

DATA = Path(__file__).resolve().parent


def _clear(folder: Path, pattern: str) -> None:
    for f in folder.glob(pattern):
        f.unlink()


# -- Gemstones -------------------------------------------------------------------------------------


def _read_jsonl(path: Path) -> pd.DataFrame:
    with open(path, encoding="utf-8") as fh:
        return pd.DataFrame([json.loads(line) for line in fh if line.strip()])


def gemstones() -> list[Path]:
    src = DATA / "gemstones"
    out = src / "hpadvisor"
    out.mkdir(exist_ok=True)
    written = []
    for stem, name in (("cool_end", "ladder.csv"), ("hot", "ladder_hot.csv")):
        d = _read_jsonl(src / f"wandb_df_for_fitting_{stem}.jsonl")
        t = pd.DataFrame({"run": d["run_name"], "width": d["width"], "depth": d["depth"],
                          "params": d["params_active_precise"], "tokens": d["tokens"],
                          "loss": d["final_loss"]})
        t = t.sort_values(["params", "width", "depth", "tokens"], kind="mergesort")
        t.to_csv(out / name, index=False, lineterminator="\n")
        written.append(out / name)
    return written


# -- Porian et al. isoFLOP points ------------------------------------------------------------------


def porian() -> list[Path]:
    src = DATA / "porian_isoflops"
    out = src / "hpadvisor"
    out.mkdir(exist_ok=True)
    _clear(out, "*.csv")
    d = pd.read_csv(src / "isoflop_points.csv")
    keys = ["dataset", "hparams", "warmup", "decay", "param_count", "loss_split"]
    written = []
    for k, g in d.groupby(keys, sort=True):
        dataset, hparams, warmup, decay, param_count, split = k
        ncol = "non_embedding_params" if param_count == "kaplan" else "params"
        t = pd.DataFrame({ncol: g["n_params"], "tokens": g["tokens"], "flops": g["flops"],
                          "loss": g["loss"]})
        t = t.sort_values(["flops", ncol], kind="mergesort")
        path = out / f"{dataset}-{hparams}-{warmup}warmup-{decay}-{param_count}-{split}.csv"
        assert not path.exists(), f"two setups map to {path.name}"
        t.to_csv(path, index=False, lineterminator="\n")
        written.append(path)
    assert len(written) == 15 and sum(len(pd.read_csv(p)) for p in written) == len(d)
    return written


# -- LR-schedule sweep ----------------------------------------------------------------------------

SERIES = ("scaling", "horizons", "lrsweep")


def _full_history(run_id: str, table: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """The run's rows, preceded by its parent's rows before the run's first step (recursively)."""
    own = table[table.run_id == run_id]
    parent = runs.at[run_id, "resume_from"]
    if pd.isna(parent):
        return own
    prev = _full_history(parent, table, runs)
    prev = prev[prev.step < own.step.min()]
    return pd.concat([prev.assign(run_id=run_id), own]).sort_values("step", kind="mergesort")


def lr_sweep() -> list[Path]:
    src = DATA / "lr_scheduling_sweep"
    out = src / "hpadvisor"
    runs = pd.read_csv(src / "runs.csv").set_index("run_id")
    curves = pd.read_csv(src / "curves.csv", dtype={"lr": str, "train_loss": str})
    val = pd.read_csv(src / "val.csv", dtype={"val_loss": str})
    written = []
    for folder in sorted(out.glob("*_*")) if out.exists() else []:
        _clear(folder, "*.csv")
    for run_id in sorted(runs.index[runs.series.isin(SERIES)]):
        r = runs.loc[run_id]
        c = _full_history(run_id, curves, runs)[["step", "lr"]]
        if r.schedule == "constant":
            c = c[c.step != r.total_steps]  # lr 0 logged past the end, never used
        v = _full_history(run_id, val, runs)[["step", "val_loss"]]
        v = v[v.step > 0].rename(columns={"val_loss": "loss"})
        assert c.step.is_unique and v.step.is_unique, run_id
        # outer: an evaluation at a step whose training row is missing (train_step_gaps) keeps a
        # blank lr there; hpadvisor interpolates the lr between logged steps
        t = c.merge(v, on="step", how="outer").sort_values("step", kind="mergesort")
        dataset, size, series, tag = run_id.split("/")
        sub = out / (f"{dataset}_{size}" + ("" if series == "scaling" else f"_{series}"))
        sub.mkdir(parents=True, exist_ok=True)
        path = sub / f"{tag}.csv"
        assert not path.exists(), path
        t.to_csv(path, index=False, lineterminator="\n")
        written.append(path)
    return written


def main() -> None:
    for name, fn in (("gemstones", gemstones), ("porian_isoflops", porian),
                     ("lr_scheduling_sweep", lr_sweep)):
        files = fn()
        rows = sum(len(pd.read_csv(f)) for f in files)
        print(f"{name}: {len(files)} files, {rows} rows")


if __name__ == "__main__":
    main()
