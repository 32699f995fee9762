"""Writing outputs safely: every output checked before the work (exists without --force, folder
missing, two outputs the same file), then written atomically (a temporary file renamed into place)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from hpadvisor.errors import DataError, InvalidInputError


def check_plot_path(path: str | Path) -> Path:
    """``path`` if matplotlib can write it (by suffix), else one clear error."""
    p = Path(path)
    if p.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise InvalidInputError(f"--plot '{p}': use a .png, .svg or .pdf file name.")
    return p


def check_writable(path: str | os.PathLike[str] | None, *, force: bool = False) -> None:
    """Fail before long work if ``path`` exists (without ``force``) or its folder is missing."""
    if path is None:
        return
    p = Path(path)
    if p.is_dir():
        raise DataError(f"'{p}' is a directory. Give a file name.")
    if p.exists() and not force:
        raise DataError(f"'{p}' already exists. Pass --force to overwrite it.")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise DataError(f"cannot write '{p}': folder '{parent}' does not exist.")


def check_outputs(paths: Mapping[str, str | os.PathLike[str] | None], *, force: bool = False,
                  plots: Sequence[str] = ("--plot",)) -> None:
    """Every output a command will write (flag -> path), checked before any work and any write:
    each writable (:func:`check_writable`), a plot's suffix one matplotlib writes, no two the same
    file.  A command that wrote its CSV and then refused its plot left half its output behind."""
    seen: dict[Path, str] = {}
    for flag, path in paths.items():
        if path is None:
            continue
        if flag in plots:
            check_plot_path(path)
        check_writable(path, force=force)
        key = Path(path).resolve()
        if key in seen:
            raise DataError(f"{seen[key]} and {flag} name the same file '{path}': give each its own.")
        seen[key] = flag


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: str | os.PathLike[str], text: str, *, force: bool = False) -> Path:
    """Write ``text`` to ``path`` atomically (temp file + rename).

    An existing file is not overwritten unless ``force``; the message says to pass --force.
    """
    p = Path(path)
    check_writable(p, force=force)
    parent = p.parent if str(p.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{p.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        # mkstemp makes the file 0600: give it what open() would (0666 less the umask), or the
        # mode of the file it replaces
        os.chmod(tmp, p.stat().st_mode & 0o777 if p.exists() else 0o666 & ~_umask())
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return p
