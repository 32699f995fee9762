"""Command-line flags from a launch script, read as text: ``--lr 3e-4 \\`` lines.

The script is never run.  Each physical line is split into shell words with :mod:`shlex`
(comments dropped, quotes honoured; a quoted string that spans lines is joined first).  Simple
variable assignments (``LR=3e-4``, ``export GPUS_PER_NODE=8``) are remembered and ``$LR`` /
``${LR}`` inside later words is replaced by their value; anything needing a real shell
(``$((...))``, ``$(cmd)``, ``${X:-y}``) is left as written and reported in a note.  Every flag
keeps the line it is written on.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from hpadvisor.errors import DataError

_ASSIGN = re.compile(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.S)
_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
_NUMBERISH = re.compile(r"^-(?:\d|\.\d)")
#: a line that starts with a long flag (``--lr 3e-4 \``), not YAML's ``---`` document marker
_FLAG_LINE = re.compile(r"^[ \t]*(?:[A-Za-z_][A-Za-z0-9_]*=\(\s*)?--[A-Za-z]", re.M)


def has_flag_lines(text: str) -> bool:
    """True when some line of ``text`` starts with a ``--flag`` (a launch script's arguments, or the
    bash array ``recommend --emit megatron`` writes), whatever the file is called."""
    return _FLAG_LINE.search(text) is not None


@dataclass(frozen=True)
class Flag:
    name: str  # as written, e.g. "--lr-warmup-iters"
    key: str  # normalised: "lr_warmup_iters"
    words: tuple[str, ...]  # the words after it up to the next flag (empty: a bare switch)
    line: int


def _physical_chunks(text: str, source: str, notes: list[str]) -> list[tuple[int, str, bool]]:
    """(first line, text, cut off) chunks: one per line, joined while a quote or a trailing \\ is
    open; "cut off" marks the lines bash runs as a command of their own after a comment line ended
    the command they continued (their flags are not the trainer's)."""
    lines = text.splitlines()
    chunks: list[tuple[int, str, bool]] = []
    i = 0
    cut = False  # the chunk after a comment that ended a continued command
    while i < len(lines):
        start, buf = i + 1, lines[i]
        comment = buf.lstrip().startswith("#")
        orphan = cut and not comment and bool(buf.strip())  # bash runs it as a command of its own
        if buf.strip() and not comment:
            cut = False
        if comment:  # a backslash at the end of a comment is part of the comment: nothing continues
            chunks.append((start, buf, False))
            i += 1
            continue
        while True:
            stripped = buf.rstrip()
            continued = stripped.endswith("\\") and not stripped.endswith("\\\\")
            try:
                if not continued:
                    shlex.split(buf, comments=True, posix=True)
                    break
            except ValueError:
                pass  # an open quote: read on
            if continued and i + 1 < len(lines) and lines[i + 1].lstrip().startswith("#"):
                # bash ends the command at a comment line, even after a trailing backslash:
                # the flags on the lines below it are not passed to the trainer.
                notes.append(f"line {i + 2}: a comment line inside a command continued with '\\' "
                             "ends the command in bash; the flags after it are not passed (not read).")
                buf = stripped[:-1]
                cut = True
                break
            if i + 1 >= len(lines):
                what = "a line continued with '\\'" if continued else "an unclosed quote"
                raise DataError(f"{source}:{start}: the script ends inside {what}. Is the file "
                                "complete (truncated)?")
            i += 1
            buf = (stripped[:-1] if continued else buf) + "\n" + lines[i]
        chunks.append((start, buf, orphan))
        i += 1
    return chunks


def _line_of(word: str, chunk_start: int, chunk_text: str, from_pos: int) -> tuple[int, int]:
    # Chunks keep their line breaks, so the line is the chunk's first plus the breaks before.
    m = re.compile(re.escape(word) + r"(?=[\s=\"']|$)").search(chunk_text, from_pos)
    if m is None:
        return chunk_start, from_pos
    return chunk_start + chunk_text.count("\n", 0, m.start()), m.end()


def parse_flags(text: str, source: str) -> tuple[list[Flag], list[str]]:
    """All ``--flag [value]`` pairs in the script, with their lines; plus notes."""
    notes: list[str] = []
    env: dict[str, str] = {}
    flags: list[Flag] = []
    for start, chunk, cut_off in _physical_chunks(text, source, notes):
        if cut_off:
            continue
        try:
            words = shlex.split(chunk, comments=True, posix=True)
        except ValueError:  # pragma: no cover - _physical_chunks only returns splittable chunks
            continue
        expanded: list[str] = []
        for w in words:
            m = _ASSIGN.match(w)
            if m and not w.startswith("-"):
                name, value = m.group(1), _subst(m.group(2), env, notes, start)
                env[name] = value
                # A variable holding flags (GPT_ARGS="--lr 3e-4 ..."): read its words too.
                if "--" in value:
                    try:
                        expanded.extend(shlex.split(value, comments=False, posix=True))
                    except ValueError:
                        notes.append(f"line {start}: could not split the words of {name}.")
                continue
            if w in ("export",):
                continue
            sub = _subst(w, env, notes, start)
            if sub != w and any(c.isspace() for c in sub):
                continue  # a variable holding several words: read at its assignment
            expanded.append(sub)
        pos = 0
        i = 0
        while i < len(expanded):
            w = expanded[i]
            if w.startswith("--") and len(w) > 2:
                line, pos = _line_of(w.split("=", 1)[0], start, chunk, pos)
                if "=" in w:
                    name, value = w.split("=", 1)
                    flags.append(Flag(name, _norm(name), (value,), line))
                    i += 1
                    continue
                values: list[str] = []
                j = i + 1
                while j < len(expanded) and not (expanded[j].startswith("-") and
                                                 not _NUMBERISH.match(expanded[j])):
                    if expanded[j] in ("\\", "(", ")", ";", "&&", "|", "||", "&") or \
                            (expanded[j].startswith("$") and values):
                        break
                    values.append(expanded[j])
                    j += 1
                flags.append(Flag(w, _norm(w), tuple(values), line))
                i = j
                continue
            i += 1
    return flags, notes


def _norm(name: str) -> str:
    return name.lstrip("-").replace("-", "_").lower()


def _subst(word: str, env: dict[str, str], notes: list[str], line: int) -> str:
    def repl(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        if name in env:
            return env[name]
        notes.append(f"line {line}: ${name} is not set in the script; its value is unknown.")
        return m.group(0)

    if "$(" in word or "${" in word and ":" in word:
        notes.append(f"line {line}: {word[:40]} needs a shell to evaluate; left as written.")
        return word
    return _VAR.sub(repl, word)
