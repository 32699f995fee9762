"""All terminal rendering.  The only module that imports rich (and only inside functions, so the
JSON path never pays for it).

Kinds rendered: ``advice`` (an :class:`hpadvisor.recommend.advisor.Advice`), ``laws`` (a list of law
summaries), ``law`` (one law in detail).
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable
from typing import Any

from hpadvisor.cli.flags import cli_text
from hpadvisor.spec import units

# -- value formatting (shared by table and markdown) -------------------------------------------


def fmt_value(name: str, value: float | None, unit: str) -> str:
    """A value with its unit, rounded for reading (the JSON keeps full precision)."""
    if value is None:
        return "n/a"
    if unit == "" and name in ("peak_lr", "min_lr", "lr"):
        return "0" if value == 0 else units.format_sci(value)
    if name == "adam_beta2":
        return f"{value:.4f}"
    if unit == "":
        return f"{value:.3g}"
    if unit in ("tokens", "params", "device-hours", "hours"):
        return f"{units.format_si(value)} {unit}"
    if unit == "FLOPs":
        return f"{units.format_sci(value)} FLOPs"
    if unit in ("steps", "sequences"):
        return f"{value:,.0f} {'seqs' if unit == 'sequences' else unit}"
    if unit == "fraction":
        return f"{value:.3g} ({value:.0%})"
    if unit == "nats/token":
        return f"{value:.4f} nats"
    if unit == "tokens/param":
        return f"{value:.3g} tok/param"
    return f"{value:.4g} {unit}"


def _short(name: str, value: float | None, unit: str) -> str:
    text = fmt_value(name, value, unit)
    return text.split(" (")[0]


def _range_text(rec: Any) -> str:
    return f"{rec.extrapolation_factor:.3g}x out" if rec.extrapolated else "in range"


def _alternatives(rec: Any) -> str:
    return ", ".join(f"{k} {_short(rec.name, v, rec.unit)}" for k, v in rec.alternatives.items())


def _spread(rec: Any) -> str:
    s = rec.spread()
    return "" if s is None else f"{s:.3g}x"


def _headline(advice: Any) -> str:
    s = advice.spec
    m = s.model
    parts = [f"{units.format_si(m.params)} params"]
    if m.non_embedding_params != m.params:
        parts[0] += f" ({units.format_si(m.non_embedding_params)} non-embedding)"
    if m.is_moe:
        parts.append(f"{units.format_si(m.active_params)} active")
    parts += [
        f"{units.format_si(s.tokens)} tokens ({s.tokens / m.params:.3g} per param)",
        f"seq {s.seq_len}",
        f"C = {units.format_sci(s.compute_flops)} FLOPs",
    ]
    title = f"{s.name}: " if s.name else ""
    return title + ", ".join(parts)


def _row_notes(advice: Any) -> list[str]:
    notes = []
    for rec in advice.recommendations:
        for note in rec.notes:
            if note.startswith("inherits the extrapolation"):
                continue  # shown as the range column of that row
            notes.append(f"{rec.name}: {note}")
    return [cli_text(n) for n in notes + list(getattr(advice, "notes", ()))]


# -- rich ------------------------------------------------------------------------------------------


def _console(file: Any = None, width: int | None = None):
    from rich.console import Console

    if width is None and file is None:
        try:
            cols = int(os.environ.get("COLUMNS", "0"))
        except ValueError:
            cols = 0
        width = cols or None
        if width is None and not sys.stdout.isatty():
            width = 140  # piped or redirected: rich would assume 80 columns and squeeze the laws away
    return Console(file=file, width=width, highlight=False, soft_wrap=False)


def _advice_renderables(advice: Any) -> list[Any]:
    from rich.table import Table
    from rich.text import Text

    table = Table(title=_headline(advice), title_justify="left", show_lines=False, expand=False)
    # On a narrow terminal every column may wrap, so the other laws' values are never squeezed out.
    table.add_column("quantity", style="bold", min_width=12)
    table.add_column("value", min_width=9)
    table.add_column("law", min_width=8)
    table.add_column("other laws", min_width=16, ratio=3)
    table.add_column("spread", justify="right", min_width=6)
    table.add_column("fitted range", min_width=8)
    group = None
    for rec in advice.recommendations:
        if rec.group != group:
            group = rec.group
            table.add_row(Text(group.upper(), style="cyan"), "", "", "", "", "")
        style = "green" if not rec.extrapolated else ("yellow" if rec.extrapolation_factor < 10 else "red")
        table.add_row(
            "  " + rec.name,
            fmt_value(rec.name, rec.value, rec.unit),
            rec.law,
            _alternatives(rec),
            _spread(rec),
            Text(_range_text(rec), style=style),
        )
    out: list[Any] = [table]
    if advice.spec.assumptions:
        out.append(Text("Assumptions:", style="bold"))
        out.extend(Text(f"  - {a}") for a in advice.spec.assumptions)
    notes = _row_notes(advice)
    if notes:
        out.append(Text("Notes:", style="bold"))
        out.extend(Text(f"  - {n}") for n in notes)
    out.append(Text("Every law, its formula and source: `hpadvisor laws show KEY`.", style="dim"))
    return out


def _laws_renderables(rows: list[dict[str, Any]]) -> list[Any]:
    from rich.table import Table

    table = Table(title="hpadvisor laws", title_justify="left")
    for col in ("key", "gives", "fitted range", "source"):
        table.add_column(col, no_wrap=col in ("key",))
    for row in rows:
        table.add_row(row["key"], ", ".join(row["gives"]), _ranges(row["fitted_range"]), row["citation"])
    return [table]


def _ranges(ranges: dict[str, list[float]]) -> str:
    return "; ".join(f"{k} {lo:.3g}-{hi:.3g}" for k, (lo, hi) in ranges.items()) or "-"


def _law_renderables(info: dict[str, Any]) -> list[Any]:
    from rich.table import Table
    from rich.text import Text

    out: list[Any] = [Text(f"{info['key']}: {info['title']}", style="bold"), Text(f"  {info['formula']}")]
    consts = Table(title="constants", title_justify="left")
    consts.add_column("name")
    consts.add_column("value", justify="right")
    for k, v in info["constants"].items():
        consts.add_row(k, f"{v:.6g}")
    ins = Table(title="inputs", title_justify="left")
    for col in ("symbol", "meaning", "unit", "run variable", "fitted range"):
        ins.add_column(col)
    for sym, d in info["inputs"].items():
        rng = info["fitted_range"].get(sym)
        ins.add_row(sym, d["meaning"], d["unit"] or "-", d["variable"],
                    f"{rng[0]:.3g}-{rng[1]:.3g}" if rng else "-")
    outs = Table(title="outputs", title_justify="left")
    for col in ("quantity", "unit", "description"):
        outs.add_column(col)
    for q, d in info["outputs"].items():
        outs.add_row(q, d["unit"] or "-", d["description"])
    out += [consts, ins if info["inputs"] or not info.get("input_note") else
            Text(f"inputs: {info['input_note']}"), outs]
    extra = {k: v for k, v in info["fitted_range"].items() if k not in info["inputs"]}
    if extra:
        out.append(Text("derived fitted range: " + _ranges(extra)))
    out.append(Text(f"citation: {info['citation']}"))
    if info["source"]:
        out.append(Text(f"source: {info['source']}"))
    if info["notes"]:
        out.append(Text(f"notes: {info['notes']}"))
    if info.get("checked_against"):
        out.append(Text(f"checked against: {info['checked_against']}"))
    if info["secondary"]:
        out.append(Text("constants are [secondary]: read from another account of the paper.", style="yellow"))
    return out


def _transfer_rows(plan: Any) -> list[list[str]]:
    def num(x: Any, sci: bool = False) -> str:
        if x is None:
            return "-"
        return units.format_sci(x) if sci else f"{x:.4g}"

    return [[g.group, num(g.lr, True), f"x{g.lr_multiplier:.4g}", num(g.init_std),
             num(g.multiplier), num(g.weight_decay), num(g.adam_eps, True)] for g in plan.groups]


_TRANSFER_COLS = ("group", "lr", "lr mult", "init std", "fwd mult", "weight decay", "adam eps")


def _transfer_title(plan: Any) -> str:
    b, t = plan.base, plan.target
    return (f"{plan.parameterization} ({plan.optimizer}): width {b.width} -> {t.width} "
            f"(x{plan.width_multiplier:.4g}), depth {b.depth} -> {t.depth} (x{plan.depth_multiplier:.4g}); "
            f"residual x{plan.residual_multiplier:.4g}, attention scale {plan.attention_scale:.4g}")


def _transfer_renderables(plan: Any) -> list[Any]:
    from rich.table import Table
    from rich.text import Text

    table = Table(title=_transfer_title(plan), title_justify="left")
    for col in _TRANSFER_COLS:
        table.add_column(col, justify="left" if col == "group" else "right")
    for row in _transfer_rows(plan):
        table.add_row(*row)
    out: list[Any] = [table, Text("Not transferred:", style="bold")]
    out += [Text(f"  - {item['setting']}: {item['advice']}") for item in plan.not_transferred]
    if plan.notes:
        out.append(Text("Notes:", style="bold"))
        out += [Text(f"  - {cli_text(n)}") for n in plan.notes]
    out.append(Text(f"Source: {plan.citation}", style="dim"))
    return out


def _advice_with_transfer(advice: Any) -> list[Any]:
    out = _advice_renderables(advice)
    if advice.transfer is not None:
        from rich.text import Text

        out.append(Text("TRANSFER FROM THE PROXY", style="cyan"))
        out += _transfer_renderables(advice.transfer)
    return out


_RENDERERS: dict[str, Callable[[Any], list[Any]]] = {"advice": _advice_with_transfer, "laws": _laws_renderables, "law": _law_renderables,
              "transfer": _transfer_renderables}


def _transfer_markdown(plan: Any) -> list[str]:
    lines = [f"### {_md_escape(_transfer_title(plan))}", "",
             "| " + " | ".join(_TRANSFER_COLS) + " |", "|" + "---|" * len(_TRANSFER_COLS)]
    lines += ["| " + " | ".join(row) + " |" for row in _transfer_rows(plan)]
    lines += ["", "**Not transferred**", ""]
    lines += [f"- {item['setting']}: {_md_escape(item['advice'])}" for item in plan.not_transferred]
    if plan.notes:
        lines += ["", "**Notes**", ""] + [f"- {_md_escape(cli_text(n))}" for n in plan.notes]
    return lines


def print_table(kind: str, obj: Any) -> None:
    console = _console()
    for item in _RENDERERS[kind](obj):
        console.print(item)


def table_text(kind: str, obj: Any, *, width: int | None = None) -> str:
    buf = io.StringIO()
    console = _console(file=buf, width=width or 120)
    for item in _RENDERERS[kind](obj):
        console.print(item)
    return buf.getvalue()


# -- markdown --------------------------------------------------------------------------------------


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def markdown(kind: str, obj: Any) -> str:
    if kind == "advice":
        lines = [f"### {_md_escape(_headline(obj))}", "",
                 "| group | quantity | value | law | other laws | spread | fitted range |",
                 "|---|---|---|---|---|---|---|"]
        for rec in obj.recommendations:
            lines.append(
                "| " + " | ".join(_md_escape(x) for x in (
                    rec.group, rec.name, fmt_value(rec.name, rec.value, rec.unit), rec.law,
                    _alternatives(rec), _spread(rec), _range_text(rec))) + " |"
            )
        if obj.spec.assumptions:
            lines += ["", "**Assumptions**", ""] + [f"- {_md_escape(a)}" for a in obj.spec.assumptions]
        notes = _row_notes(obj)
        if notes:
            lines += ["", "**Notes**", ""] + [f"- {_md_escape(n)}" for n in notes]
        if obj.transfer is not None:
            lines += [""] + _transfer_markdown(obj.transfer)
        return "\n".join(lines) + "\n"
    if kind == "transfer":
        return "\n".join(_transfer_markdown(obj)) + "\n"
    if kind == "laws":
        return _laws_markdown(obj)
    return "\n".join(_law_markdown(obj, "###")) + "\n"


def _md_text(text: str) -> str:
    """Prose in a markdown cell or line: pipes and asterisks (lr*, B*) escaped."""
    return _md_escape(text).replace("*", "\\*")


#: What ``hpadvisor laws --format markdown`` (and docs/laws.md, its output) opens with.
_LAWS_INTRO = """\
# The laws hpadvisor knows

Every law in hpadvisor's registry: its formula, constants, the unit of each input (which
parameter count N is, whether a batch is in tokens or sequences), the range of data its constants
were fitted on, where it comes from and what it was checked against. This page is the output of
`hpadvisor laws --format markdown` (docs/laws.md in the repository, where a test keeps it current);
`hpadvisor laws show KEY` prints one law, `hpadvisor laws export KEY` writes it as a law file.

Units: N is parameters, counted as each law's inputs table says: *non-embedding* (attention and
MLP weights) or *total* (embeddings and output layer included), or active per token for a mixture
of experts. D is tokens, C FLOPs, a batch tokens per optimizer step unless its unit says
sequences. An input outside its fitted range is allowed; the advice flags it with the factor by
which it lies outside. Constants marked [secondary] were read from another account of the paper,
not from the paper or its code.
"""


def _laws_markdown(rows: list[dict[str, Any]]) -> str:
    """The law list: a summary table, then (for full descriptions) one section per law."""
    full = bool(rows) and "formula" in rows[0]
    lines = [_LAWS_INTRO] if full else []
    lines += ["| key | gives | fitted range | source |", "|---|---|---|---|"]
    for row in rows:
        key = f"[{row['key']}](#{row['key']})" if full else row["key"]
        lines.append(f"| {key} | {', '.join(row['gives'])} | {_md_escape(_ranges(row['fitted_range']))} "
                     f"| {_md_text(row['citation'])} |")
    for row in rows if full else []:
        lines += [""] + _law_markdown(row, "##")
    return "\n".join(lines) + "\n"


def _law_markdown(info: dict[str, Any], heading: str) -> list[str]:
    """One law in detail: formula, constants, inputs (unit, run variable, fitted range), outputs,
    source, notes and the figures it was checked against."""
    lines = [f"{heading} {info['key']}", "", f"**{_md_text(info['title'])}**", "", f"`{info['formula']}`", ""]
    if info["constants"]:
        lines += ["| constant | value |", "|---|---|"]
        lines += [f"| {k} | {v:.6g} |" for k, v in info["constants"].items()]
    else:
        lines.append("No fitted constants.")
    if not info["inputs"] and info.get("input_note"):
        lines += ["", f"Inputs: {_md_text(info['input_note'])}"]
    elif info["inputs"]:
        lines += ["", "| input | meaning | unit | run variable | fitted range |", "|---|---|---|---|---|"]
        for sym, d in info["inputs"].items():
            rng = info["fitted_range"].get(sym)
            lines.append(f"| {sym} | {_md_text(d['meaning'])} | {d['unit'] or '-'} | {d['variable']} | "
                         f"{f'{rng[0]:.3g}-{rng[1]:.3g}' if rng else '-'} |")
    else:
        lines += ["", "No inputs."]
    extra = {k: v for k, v in info["fitted_range"].items() if k not in info["inputs"]}
    if extra:
        lines += ["", f"Fitted range of derived quantities: {_md_escape(_ranges(extra))}."]
    if info["outputs"]:
        lines += ["", "| gives | unit | description |", "|---|---|---|"]
        lines += [f"| {q} | {d['unit'] or '-'} | {_md_text(d['description']) or '-'} |"
                  for q, d in info["outputs"].items()]
    lines += ["", f"- Citation: {_md_text(info['citation'])}"]
    if info.get("source"):
        lines.append(f"- Source: {_md_text(info['source'])}")
    if info.get("notes"):
        lines.append(f"- Notes: {_md_text(info['notes'])}")
    if info.get("secondary"):
        lines.append("- [secondary]: constants read from another account of the paper.")
    checked = (info.get("checked_against")
               or "no published figure to check (a convention, a definition or a recommendation).")
    lines.append(f"- Checked against: {_md_text(checked)}")
    return lines


def print_simple_table(title: str, columns: tuple[str, ...], rows: list[list[str]], lines: list[str]) -> None:
    """A titled table and a few lines under it (fit summaries)."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, title_justify="left")
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*row)
    console = _console()
    console.print(table)
    for line in lines:
        console.print(Text(line))


# -- hpadvisor check ---------------------------------------------------------------------------------

_GRADE_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def print_check(reports: list[Any], unreadable: int = 0) -> None:
    """Findings as ``file:line: grade rule  message`` + the fix, then notes and a count."""
    from rich.text import Text

    console = _console()
    counts = {"error": 0, "warning": 0, "info": 0}
    for report in reports:
        for f in report.findings:
            counts[f.severity] += 1
            where = f"{report.file}:{f.line}" if f.line is not None else report.file
            line = Text(f"{where}: ")
            line.append(f.severity, style=_GRADE_STYLE[f.severity])
            line.append(f" [{f.rule}] ", style="bold")
            line.append(cli_text(f.message))
            console.print(line, soft_wrap=True)
            console.print(Text(f"    fix: {cli_text(f.suggestion)}", style="green"), soft_wrap=True)
        for note in report.notes:
            console.print(Text(f"  note ({report.file}): {cli_text(note)}", style="dim"), soft_wrap=True)
    total = sum(counts.values())
    summary = ", ".join(f"{n} {k}{'s' if n != 1 and k != 'info' else ''}" for k, n in counts.items() if n)
    names = f"{len(reports)} file{'s' if len(reports) != 1 else ''} checked"
    if unreadable:
        names += f" ({unreadable} could not be read: see the errors above)"
    console.print(Text(f"{names}: {summary}." if total else f"{names}: no findings.", style="bold"))
