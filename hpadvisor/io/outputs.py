"""Writing outputs safely: every output checked before the work, then written atomically.

Before any work (:func:`check_outputs`): each output is a file hpadvisor can create (:func:`check_writable`):
not a directory; not a device, a pipe or anything under /dev, /proc or /sys (``--out /dev/stdout``:
to print, give no ``--out``); not an existing file without ``--force``; in a folder that exists and
takes a new file; with a name the file system allows.  No two outputs are the same file, and no
output is one of the command's inputs.  Then (:func:`write_atomic`) the text goes to a temporary
file in the same folder, renamed into place (through a symlink: the link is kept); an
operating-system error on the way is one line, never a traceback.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from hpadvisor.errors import DataError, InvalidInputError


def check_plot_path(path: str | Path) -> Path:
    """``path`` if matplotlib can write it (by suffix), else one clear error."""
    p = Path(path)
    if p.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise InvalidInputError(f"`plot` '{p}': use a .png, .svg or .pdf file name.")
    return p


def write_error(path: str | os.PathLike[str], exc: OSError) -> DataError:
    """The one line an operating-system error on writing ``path`` becomes."""
    why = exc.strerror or type(exc).__name__
    return DataError(f"cannot write '{_shown(Path(path))}': {why}.")


def _folder(p: Path) -> Path:
    return p.parent if str(p.parent) else Path(".")


#: Folders of devices and kernel files: an output there is not a file (``/dev/stdout``, ``/proc/...``).
SYSTEM_FOLDERS = ("/dev", "/proc", "/sys")


def _shown(p: Path) -> str:
    text = str(p)
    return text if len(text) <= 80 else text[:60] + "..." + text[-12:]


def target(path: str | os.PathLike[str]) -> Path:
    """The file an output path names: a symlink's target (written through, the link kept)."""
    p = Path(path)
    try:
        return Path(os.path.realpath(p)) if p.is_symlink() else p
    except (OSError, ValueError):
        return p


def check_writable(path: str | os.PathLike[str] | None, *, force: bool = False, flag: str = "`path`") -> None:
    """Fail before long work if ``path`` cannot be written: see the module notes."""
    if path is None:
        return
    given = Path(path)
    for folder in SYSTEM_FOLDERS:
        if os.path.abspath(given).startswith(folder + os.sep):
            raise DataError(f"{flag} '{_shown(given)}' is in {folder}, which holds devices and system files, not "
                            f"outputs: to print the output, give no {flag}; else name a file elsewhere.")
    p = target(given)
    try:
        st: os.stat_result | None = os.stat(p)  # follows symlinks: /dev/stdout is judged as what it is
    except FileNotFoundError:
        st = None
    except (OSError, ValueError) as exc:  # a name too long, a file where a folder should be, a NUL byte
        if isinstance(exc, ValueError):
            raise DataError(f"cannot write '{p}': the name holds a NUL byte.") from None
        if isinstance(exc, NotADirectoryError):
            raise DataError(f"cannot write '{p}': '{_folder(p)}' is not a folder.") from None
        raise write_error(p, exc) from None
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            raise DataError(f"'{p}' is a directory. Give a file name.")
        if not stat.S_ISREG(st.st_mode):
            from hpadvisor.io.inputs import kind_of

            raise DataError(f"{flag} '{p}' is not a regular file (it is {kind_of(st.st_mode)}): hpadvisor writes "
                            f"files; to print the output, give no {flag}.")
        if not force:
            raise DataError(f"'{p}' already exists. Pass `force` to overwrite it.")
    parent = _folder(p)
    if not parent.is_dir():
        raise DataError(f"cannot write '{p}': folder '{parent}' does not exist.")
    try:
        longest = os.pathconf(parent, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        longest = 255
    if len(os.fsencode(p.name)) > longest:
        raise DataError(f"cannot write '{_shown(p)}': the file name is {len(os.fsencode(p.name))} bytes, "
                        f"longer than the {longest} the file system allows.")
    try:  # the folder takes a new file (read-only, no permission, /proc...): found now, not after the work
        fd, probe = tempfile.mkstemp(dir=parent, prefix=".hpadvisor-", suffix=".tmp")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise DataError(f"cannot write '{p}': folder '{parent}' does not take new files "
                        f"({exc.strerror or type(exc).__name__}).") from None


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)  # hard links and symlinks too
    except (OSError, ValueError):  # one of them does not exist (yet)
        return False


def check_outputs(paths: Mapping[str, str | os.PathLike[str] | None], *, force: bool = False,
                  plots: Sequence[str] = ("--plot",),
                  inputs: Iterable[str | os.PathLike[str] | None] = ()) -> None:
    """Every output a command will write (flag -> path), checked before any work and any write:
    each writable (:func:`check_writable`), a plot's suffix one matplotlib writes, no two the same
    file, none one of ``inputs`` (``--force`` would overwrite the data the command reads).  A
    command that wrote its CSV and then refused its plot left half its output behind."""
    seen: dict[Path, str] = {}
    given = [Path(i) for i in inputs if i is not None and str(i)]
    for flag, path in paths.items():
        if path is None:
            continue
        p = Path(path)
        if flag in plots:
            check_plot_path(p)
        check_writable(p, force=force, flag=flag)
        for i in given:
            if _same_file(p, i):
                raise DataError(f"{flag} '{p}' is also an input of this command ('{i}'): write the output to "
                                "another file (`force` would overwrite the data read).")
        key = p.resolve()
        if key in seen:
            raise DataError(f"{seen[key]} and {flag} name the same file '{path}': give each its own.")
        seen[key] = flag


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def temporary_beside(p: Path, suffix: str = ".tmp") -> tuple[int, str]:
    """A new temporary file in ``p``'s folder (fd, name), its name short whatever ``p``'s length."""
    return tempfile.mkstemp(dir=_folder(p), prefix=f".{p.name[:40]}.", suffix=suffix)


def replace_into(tmp: str, p: Path) -> None:
    """Give ``tmp`` the mode ``open()`` would (0666 less the umask, or the replaced file's) and rename
    it to ``p``."""
    # mkstemp makes the file 0600
    os.chmod(tmp, p.stat().st_mode & 0o777 if p.exists() else 0o666 & ~_umask())
    os.replace(tmp, p)


def write_atomic(path: str | os.PathLike[str], text: str, *, force: bool = False) -> Path:
    """Write ``text`` to ``path`` atomically (temp file + rename).

    An existing file is not overwritten unless ``force``; the message says to pass --force.  An
    operating-system error (disk full, permission, a name too long) is one :class:`DataError`.
    """
    check_writable(path, force=force)
    p = target(path)
    try:
        fd, tmp = temporary_beside(p)
    except OSError as exc:
        raise write_error(p, exc) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        replace_into(tmp, p)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise write_error(p, exc) from None
        raise
    return Path(path)
