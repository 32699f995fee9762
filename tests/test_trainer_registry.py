"""One trainer registry: every formats/<trainer>.py module defines one ``Trainer`` with every hook,
and every list the project keeps of its trainers (command-line choices and help, ``recommend
--emit``, ``transfer --emit``, check's weight-decay groups, the schedule conventions, detection)
is read from the registry; nothing else in hpadvisor/ spells the whole list out."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import numpy as np
import pytest

from hpadvisor import schedules
from hpadvisor.check import rules as chk
from hpadvisor.formats import registry
from hpadvisor.formats.base import CANONICAL, Setting, TrainerConfig
from hpadvisor.formats.registry import TRAINERS, detect_format, formats, trainer_keys
from hpadvisor.formats.trainer import SYNTAXES, MupFields, Trainer

PKG = Path(__file__).resolve().parents[1] / "hpadvisor"


def _toy_rules(plan, cfg, notes):
    notes.append(f"toy: a plan of {plan.total} steps")


#: A trainer no module defines, registered for one test at a time: every list must follow it.
TOY = Trainer(key="toy", name="ToyTrainer", order=55, files="INI file",
              read=lambda path, text: None, dump=lambda values: f"toy lr={values.get('lr')}\n",
              syntaxes={"yaml": 9}, markers=frozenset({"toy_only_key", "toy_section.toy_rate"}),
              convention="hf", schedule_rules=_toy_rules, wd_switch="toy.no_decay_names",
              mup=lambda plan: MupFields("Toy muP", {"toy_mup": True}), mup_parameterizations=frozenset({"mup"}),
              shape_default="its 1M default")


@pytest.fixture
def toy(monkeypatch):
    known = [*TRAINERS.values(), TOY]  # the registry's own dict, refilled in listing order with TOY
    monkeypatch.setattr(TRAINERS, "_found", {t.key: t for t in sorted(known, key=lambda t: t.order)})
    yield TOY


# -- the registry itself ---------------------------------------------------------------------------

def test_the_registry_holds_every_trainer_module_in_listing_order():
    modules = sorted(p.stem for p in (PKG / "formats").glob("*.py")
                     if not p.stem.startswith("_") and "\nTRAINER = Trainer(" in p.read_text(encoding="utf-8"))
    assert sorted(TRAINERS) == modules
    assert formats() == ("megatron", "neox", "hf", "torchtitan", "nanotron", "nanogpt", "hpadvisor")
    assert trainer_keys() == formats()[:-1]
    assert [t.key for t in TRAINERS.values() if t.run_file] == ["hpadvisor"]


def test_each_trainer_module_defines_exactly_one_trainer_named_after_it():
    for path in sorted((PKG / "formats").glob("*.py")):
        calls = [n for n in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                 if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "Trainer"]
        if path.stem in TRAINERS:
            assert len(calls) == 1, f"{path.name}: {len(calls)} Trainer(...) calls"
            assert TRAINERS[path.stem].key == path.stem
        else:
            assert calls == [], f"{path.name} defines a Trainer but is not a trainer module"


@pytest.mark.parametrize("key", list(TRAINERS))
def test_every_trainer_has_every_hook(key):
    t = TRAINERS[key]
    assert t.name and t.files and isinstance(t.order, int)
    assert callable(t.read) and callable(t.dump) and callable(t.schedule_rules)
    assert t.syntaxes and set(t.syntaxes) <= set(SYNTAXES)
    # detected by its keys unless the file's syntax alone tells it (Python, a launch script)
    assert t.markers or set(t.syntaxes) <= {"python", "shell"}
    assert (t.convention is None) == t.run_file
    if not t.run_file:
        assert t.convention in schedules.CONVENTIONS
    assert (t.mup is None) == (not t.mup_parameterizations)
    assert t.wd_switch is None or isinstance(t.wd_switch, str)
    # the reader reads back what the writer writes
    values = {"lr": 3e-4, "train_steps": 1000, "global_batch_seqs": 64, "micro_batch_seqs": 8, "grad_accum": 8,
              "data_parallel": 1, "seq_len": 2048}
    if t.run_file:
        values["params"] = 1e9
    ext = {"python": ".py", "shell": ".sh", "toml": ".toml", "json": ".json", "yaml": ".yaml"}[min(t.syntaxes, key=t.syntaxes.get)]
    draft = t.read(f"snippet{ext}", t.dump(values))
    assert draft.settings["lr"].value == pytest.approx(3e-4)
    assert set(draft.settings) <= set(CANONICAL)


def test_the_hooks_say_what_the_trainers_do():
    assert {k: t.convention for k, t in TRAINERS.items()} == {
        "megatron": "megatron", "neox": "neox", "hf": "hf", "torchtitan": "torchtitan", "nanotron": "megatron",
        "nanogpt": "nanogpt", "hpadvisor": None}
    assert {k for k, t in TRAINERS.items() if t.wd_switch} == {"nanotron"}
    assert TRAINERS["nanotron"].wd_switch == "optimizer.weight_decay_exclude_named_params"
    assert {k for k, t in TRAINERS.items() if t.mup} == {"megatron", "neox"}
    assert {k for k, t in TRAINERS.items() if t.wsd_warmup_from_floor} == {"hf"}
    assert {k for k, t in TRAINERS.items() if t.states_shape} == {"megatron", "neox", "nanotron", "nanogpt"}


def test_an_unknown_format_is_one_line_naming_the_known_ones():
    with pytest.raises(Exception, match=r"unknown config format 'megatorn'. Did you mean 'megatron'"):
        registry.trainer("megatorn")


# -- every list the project keeps comes from the registry ------------------------------------------

def test_the_run_file_trainer_choices_equal_the_registry():
    # spec sits below formats and cannot import it: its plain tuple must match
    from hpadvisor.spec.fields import FIELDS
    from hpadvisor.spec.fields import TRAINERS as SPEC_TRAINERS

    assert SPEC_TRAINERS == trainer_keys()
    assert FIELDS["schedule"]["trainer"].choices == trainer_keys()


def test_the_schedule_conventions_are_the_trainers():
    assert set(schedules.CONVENTIONS) == {t.convention for t in TRAINERS.values() if t.convention}
    for key, t in TRAINERS.items():
        assert schedules.trainer_convention(key) == t.convention
    assert schedules.warmup_start("hf", "wsd", 0.1) == 0.1
    assert schedules.warmup_start("megatron", "wsd", 0.1) == 0.0
    assert schedules.warmup_start("hf", "cosine", 0.1) == 0.0


def test_the_command_line_lists_come_from_the_registry(toy):
    from hpadvisor.cli import options

    assert options.format_keys() == ["megatron", "neox", "hf", "torchtitan", "nanotron", "toy", "nanogpt", "hpadvisor"]
    assert options.trainer_format("toy") == "toy"
    with pytest.raises(Exception, match="'toi' is not a trainer hpadvisor reads. Did you mean 'toy'"):
        options.trainer_format("toi")
    assert "nanotron, ToyTrainer, nanoGPT" in options.trainer_names()
    assert "nanotron YAML, ToyTrainer INI file, nanoGPT override file" in options.config_files_help()
    assert options.config_files_help().endswith(", or an hpadvisor run file")
    assert options.conventions_help() == "megatron (also nanotron), neox, hf (also toy), torchtitan or nanogpt"


def test_the_command_line_help_lists_every_format():
    from typer.testing import CliRunner

    from hpadvisor.cli.app import app

    keys = ", ".join(formats())
    out = CliRunner().invoke(app, ["recommend", "--help"], env={"COLUMNS": "400"}).output
    assert " ".join(f"this trainer: {keys}.".split()) in " ".join(out.split())
    out = CliRunner().invoke(app, ["check", "--help"], env={"COLUMNS": "400"}).output
    assert " ".join(f"auto, {keys}.".split()) in " ".join(out.split())


def test_detection_reads_each_trainers_marks(toy, tmp_path):
    f = tmp_path / "run.yaml"
    f.write_text("toy_only_key: 1\ntoy_section:\n  toy_rate: 2\nlr: 0.1\n")
    assert detect_format(str(f), f.read_text()) == "toy"
    f.write_text("train_micro_batch_size_per_gpu: 4\nlr: 0.1\n")
    assert detect_format(str(f), f.read_text()) == "neox"
    with pytest.raises(Exception, match=r"`format`: one of megatron, neox, hf, torchtitan, nanotron, toy, nanogpt, hpadvisor"):
        detect_format(str(f), "a: 1\n")


def test_the_schedule_follows_the_trainers_convention_and_rules(toy):
    def cfg(fmt):
        return TrainerConfig("t.yaml", fmt, {k: Setting(v, k, None) for k, v in (
            ("lr", 1e-3), ("min_lr", 1e-4), ("train_steps", 1000), ("warmup_steps", 100), ("schedule", "cosine"))})

    eta, _, notes = schedules.from_trainer(cfg("toy"))
    hf, _, _ = schedules.from_trainer(cfg("hf"))
    assert "toy: a plan of 1000 steps" in notes
    np.testing.assert_array_equal(eta, hf)  # toy computes with HF's convention
    assert eta[100] == pytest.approx(1e-3) and eta[1000] == pytest.approx(1e-4)


def test_checks_weight_decay_groups_come_from_the_registry(toy):
    def fix(fmt):
        cfg = TrainerConfig("c.yaml", fmt, {"weight_decay": Setting(0.1, "wd", 1),
                                            "wd_on_norms": Setting(True, "no_decay_names", 2)})
        (found,) = chk.weight_decay_groups(chk.Context(cfg))
        return found.suggestion

    assert fix("toy") == "exclude the norm gains and biases from weight decay (no_decay_names)"
    for key, t in TRAINERS.items():
        assert ("has no config switch" in fix(key)) == (t.wd_switch is None), key


def test_recommend_emit_reads_the_registry(toy):
    from hpadvisor.recommend import advisor, api
    from hpadvisor.recommend.emit import emit_snippet

    adv = advisor.recommend(api.spec_from(params="1B", tokens="20B"))
    text, notes = emit_snippet(adv, "toy")
    lr = float(f"{adv.value('peak_lr'):.3g}")  # the advice's peak lr, as --emit writes it
    assert text == f"toy lr={lr}\n"
    assert any("set it in the toy config yourself (ToyTrainer would otherwise train its 1M default)." in n
               for n in notes)
    _, notes = emit_snippet(adv, "hf")  # its shape is the model's config.json: nothing to say
    assert not any("no model shape" in n for n in notes)
    with pytest.raises(Exception, match=r"`trainer` 'toi' is not one of megatron, .*, toy, nanogpt, hpadvisor. Did you mean 'toy'"):
        emit_snippet(adv, "toi")


def test_transfer_emitters_are_the_trainers_with_mup_fields():
    from hpadvisor.transfer.emit import EMITTERS, SUPPORTED

    with_mup = [k for k, t in TRAINERS.items() if t.mup is not None]
    assert EMITTERS == ("yaml", "json", "recipe", *with_mup, "cerebras", "nanogpt-mup")
    for key in with_mup:
        assert SUPPORTED[key] == TRAINERS[key].mup_parameterizations


# -- nothing else spells out the list ----------------------------------------------------------------

def _spellings() -> dict[str, re.Pattern[str]]:
    """Each trainer -> a pattern for its key or its own name as a whole word."""
    return {k: re.compile(r"(?<![a-z0-9])(" + "|".join(map(re.escape, {k, t.name.lower()})) + r")(?![a-z0-9])")
            for k, t in TRAINERS.items() if not t.run_file}


def _names_them_all(text: str, spellings: dict[str, re.Pattern[str]]) -> bool:
    low = text.lower()
    return all(p.search(low) for p in spellings.values())


def _docstrings(tree: ast.AST) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
    return out


def hard_coded_lists() -> list[str]:
    """Every place in hpadvisor/ outside the trainer modules that names all the trainers: a literal
    tuple/list/set/dict holding every key, a string (not a docstring: prose may describe each
    trainer's formulas) or a comment naming every trainer.  spec/fields.py's TRAINERS is the one
    exception (spec sits below formats), checked above to equal the registry."""
    spellings = _spellings()
    keys = set(spellings)
    found = []
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG.parent)
        if path.parent.name == "formats" and path.stem in TRAINERS:
            continue
        src = path.read_text(encoding="utf-8")
        tree = ast.parse(src)
        docs = _docstrings(tree)
        for node in ast.walk(tree):
            items = (node.elts if isinstance(node, (ast.Tuple, ast.List, ast.Set)) else
                     node.keys if isinstance(node, ast.Dict) else None)
            if items is not None:
                strings = {e.value.lower() for e in items if isinstance(e, ast.Constant) and isinstance(e.value, str)}
                if keys <= strings and not (str(rel) == "hpadvisor/spec/fields.py" and node.lineno == _spec_line()):
                    found.append(f"{rel}:{node.lineno}: a literal of every trainer")
            elif (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
                  and _names_them_all(node.value, spellings)):
                found.append(f"{rel}:{node.lineno}: a string naming every trainer")
        for tok in tokenize.generate_tokens(io.StringIO(src).readline):
            if tok.type == tokenize.COMMENT and _names_them_all(tok.string, spellings):
                found.append(f"{rel}:{tok.start[0]}: a comment naming every trainer")
    return found


def _spec_line() -> int:
    lines = (PKG / "spec" / "fields.py").read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.startswith("TRAINERS = ("))


def test_nothing_else_hard_codes_the_list_of_trainers():
    assert hard_coded_lists() == []


def test_the_scan_finds_a_hard_coded_list(tmp_path, monkeypatch):
    # the scan itself: a copy of the package with one list and one help text added is caught
    import shutil

    copy = tmp_path / "hpadvisor"
    shutil.copytree(PKG, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "check" / "extra.py").write_text(
        'X = ("megatron", "neox", "hf", "torchtitan", "nanotron", "nanogpt")\n'
        'H = "one of Megatron-LM, GPT-NeoX, HF, torchtitan, nanotron or nanoGPT"\n'
        "# megatron neox hf torchtitan nanotron nanogpt\n", encoding="utf-8")
    monkeypatch.setitem(globals(), "PKG", copy)
    assert hard_coded_lists() == ["hpadvisor/check/extra.py:1: a literal of every trainer",
                                  "hpadvisor/check/extra.py:2: a string naming every trainer",
                                  "hpadvisor/check/extra.py:3: a comment naming every trainer"]
