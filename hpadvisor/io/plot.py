"""Plots of schedules and loss curves: a plain-text plot for the terminal, PNG/SVG with matplotlib.

matplotlib is an optional extra, imported only when a file is asked for.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from hpadvisor.errors import DataError
from hpadvisor.io.outputs import (
    check_plot_path,
    check_writable,
    replace_into,
    target,
    temporary_beside,
    write_error,
)

if TYPE_CHECKING:
    import numpy as np

MARKS = "*o+x#@%&"


def text_plot(series: Mapping[str, tuple[Sequence[float], Sequence[float]]], *, width: int = 72,
              height: int = 18, ylabel: str = "", xlabel: str = "step") -> str:
    """Several (x, y) series on one character grid, with axis ranges and a legend."""
    pts = [(float(x), float(y)) for xs, ys in series.values() for x, y in zip(xs, ys, strict=True)
           if math.isfinite(float(y))]
    if not pts:
        return "(nothing to plot)\n"
    x0, x1 = min(p[0] for p in pts), max(p[0] for p in pts)
    y0, y1 = min(p[1] for p in pts), max(p[1] for p in pts)
    x1 = x1 if x1 > x0 else x0 + 1
    y1 = y1 if y1 > y0 else y0 + abs(y0) * 1e-6 + 1e-12
    grid = [[" "] * width for _ in range(height)]
    for i, (_name, (xs, ys)) in enumerate(series.items()):
        mark = MARKS[i % len(MARKS)]
        for x, y in zip(xs, ys, strict=True):
            if not math.isfinite(float(y)):
                continue
            c = round((float(x) - x0) / (x1 - x0) * (width - 1))
            r = height - 1 - round((float(y) - y0) / (y1 - y0) * (height - 1))
            grid[r][c] = mark
    lines = [f"{y1:>10.4g} |" + "".join(grid[0])]
    lines += ["           |" + "".join(row) for row in grid[1:-1]]
    lines.append(f"{y0:>10.4g} |" + "".join(grid[-1]))
    lines.append("           +" + "-" * width)
    lines.append(f"            {x0:<12.6g}{xlabel:^{max(width - 24, 4)}}{x1:>12.6g}")
    legend = "   ".join(f"{MARKS[i % len(MARKS)]} {name}" for i, name in enumerate(series))
    lines.append(f"  {ylabel}: {legend}" if ylabel else f"  {legend}")
    return "\n".join(lines) + "\n"


def save_plot(path: str | Path, series: Mapping[str, tuple[Sequence[float] | np.ndarray, Sequence[float] | np.ndarray]],
              *, ylabel: str, title: str = "", force: bool = False,
              observed: Mapping[str, tuple[Sequence[float] | np.ndarray, Sequence[float] | np.ndarray]] | None = None,
              xlabel: str = "step", xlog: bool = False, ylog: bool = False) -> None:
    """Write a PNG or SVG (by suffix) with matplotlib; refuses to overwrite without ``force``."""
    check_writable(check_plot_path(path), force=force, flag="`plot`")
    p = target(path)  # a symlink is written through
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise DataError(
            "`plot` needs matplotlib (an optional extra): pip install matplotlib. "
            "Without it the plot is printed in the terminal."
        ) from None
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for name, (xs, ys) in series.items():
        ax.plot(list(xs), list(ys), label=name, lw=1.4)
    for name, (xs, ys) in (observed or {}).items():
        ax.plot(list(xs), list(ys), ".", ms=2, label=f"{name} (observed)")
    ax.set_xlabel(xlabel)
    if xlog:
        ax.set_xscale("log")
    if ylog:
        ax.set_yscale("log")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    try:
        fd, tmp = temporary_beside(p, suffix=p.suffix)
        os.close(fd)
    except OSError as exc:
        plt.close(fig)
        raise write_error(p, exc) from None
    try:
        fig.savefig(tmp, format=p.suffix.lower().lstrip("."))
        replace_into(tmp, p)
    except BaseException as exc:  # no temporary file left behind, whatever stopped the write
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise write_error(p, exc) from None
        raise
    finally:
        plt.close(fig)
