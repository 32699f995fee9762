"""Opening inputs: every file hpadvisor reads is opened here, and only here.

A path is checked before a byte is read: it must name a regular file (a named pipe would block
forever, ``/dev/zero`` never ends, a directory is not a file; a symlink is followed and judged by
what it points to), and a file no larger than the cap for its kind.  The read itself stops one
byte past the cap, so a file that grows while it is read, or a ``/proc`` file that reports size 0,
cannot make it unbounded either.

Caps (decimal megabytes, said in the message when a file is refused):

* :data:`TABLE_LIMIT`, 200 MB: tables, training logs, lr traces, TensorBoard event files (all
  event files of a log directory together);
* :data:`TEXT_LIMIT`, 20 MB: run files, law files, trainer configs, model ``config.json`` files,
  settings files.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from hpadvisor.errors import DataError

MB = 1_000_000
#: Largest table, log, lr trace or TensorBoard log read (bytes).
TABLE_LIMIT = 200 * MB
#: Largest run file, law file, trainer config, model config or settings file read (bytes).
TEXT_LIMIT = 20 * MB

_KINDS = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def kind_of(mode: int) -> str:
    """What a non-regular file is, in words (for messages)."""
    for test, words in _KINDS:
        if test(mode):
            return words
    return "a directory" if stat.S_ISDIR(mode) else "not a file"


def _size(n: int) -> str:
    return f"{n / MB:.3g} MB" if n >= MB else f"{n:,} bytes"


def _too_large(what: str, p: Path, limit: int, size: int | None) -> DataError:
    held = f" (it holds {_size(size)})" if size else ""
    return DataError(f"{what} '{p}' is larger than {_size(limit)}, the most hpadvisor reads from a {what}{held}: "
                     "is it the right file?")


def _refuse(what: str, p: Path, st: os.stat_result, directory: bool) -> None:
    if stat.S_ISDIR(st.st_mode):
        if directory:
            return
        raise DataError(f"{what} '{p}' is a directory, not a file.")
    if not stat.S_ISREG(st.st_mode):
        raise DataError(f"{what} '{p}' is not a regular file (it is {kind_of(st.st_mode)}): give the path of a "
                        "file; hpadvisor reads no pipes or devices.")


def _os_error(what: str, p: Path, exc: OSError) -> DataError:
    if isinstance(exc, (FileNotFoundError, NotADirectoryError)):
        return DataError(f"{what} '{p}' not found. Check the path.")
    return DataError(f"{what} '{p}' cannot be read: {exc.strerror or type(exc).__name__}.")


def check_input(path: str | os.PathLike[str], *, what: str = "file", limit: int = TEXT_LIMIT,
                directory: bool = False) -> Path:
    """``path`` as a Path if it may be read: it exists, is a regular file (or, with ``directory``,
    a directory), and is at most ``limit`` bytes.  Otherwise one clear :class:`DataError`."""
    p = Path(path)
    try:
        st = os.stat(p)  # follows symlinks: a link is judged by what it points to
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the name
        if isinstance(exc, ValueError):
            raise DataError(f"{what} '{p}' not found. Check the path.") from None
        raise _os_error(what, p, exc) from None
    _refuse(what, p, st, directory)
    if stat.S_ISREG(st.st_mode) and st.st_size > limit:
        raise _too_large(what, p, limit, st.st_size)
    return p


def read_input_bytes(path: str | os.PathLike[str], *, what: str = "file", limit: int = TEXT_LIMIT) -> bytes:
    """The bytes of ``path`` after :func:`check_input`; the read stops past ``limit``."""
    p = check_input(path, what=what, limit=limit)
    try:
        # O_NONBLOCK: if the path became a pipe after the check, opening it does not block; fstat
        # then judges what was really opened.
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        raise _os_error(what, p, exc) from None
    try:
        with os.fdopen(fd, "rb") as fh:
            _refuse(what, p, os.fstat(fh.fileno()), directory=False)
            data = fh.read(limit + 1)
    except OSError as exc:
        raise _os_error(what, p, exc) from None
    if len(data) > limit:
        raise _too_large(what, p, limit, None)
    return data


#: Python reads whole numbers of at most this many digits (``sys.get_int_max_str_digits``).
MAX_DIGITS = 4300


def is_digit_limit(exc: BaseException) -> bool:
    """Whether ``exc`` is Python refusing a whole number longer than MAX_DIGITS digits."""
    return isinstance(exc, ValueError) and "integer string conversion" in str(exc)


def digit_limit_error(source: object) -> DataError:
    """The one line for a number too long to read (a parser's ValueError, see :func:`is_digit_limit`)."""
    return DataError(f"{source}: a whole number has more than {MAX_DIGITS:,} digits, more than Python reads and "
                     "more than any setting needs: check the file.")


def read_input_text(path: str | os.PathLike[str], *, what: str = "file", limit: int = TEXT_LIMIT) -> str:
    """The UTF-8 text of ``path`` (see :func:`read_input_bytes`), line ends as ``open()`` gives them
    (\\r\\n and \\r read as \\n); a binary file is refused."""
    data = read_input_bytes(path, what=what, limit=limit)
    try:
        return data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    except UnicodeDecodeError as exc:
        raise DataError(f"{what} '{path}' is not UTF-8 text (byte {exc.start}). Is it a binary file?") from None
