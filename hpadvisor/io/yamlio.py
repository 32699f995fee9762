"""Safe YAML in, with the line of every key (outputs are written by :mod:`hpadvisor.io.outputs`).

YAML is always loaded with PyYAML's SafeLoader: a tag that would construct a Python object
(``!!python/object/apply:os.system``) is refused before anything is built.  The loader also
records the line of every mapping key, so messages (and ``hpadvisor check`` findings) can point
at the line, and refuses duplicate keys, which PyYAML would otherwise silently let the last win.
"""

from __future__ import annotations

import os
from typing import Any

import yaml

from hpadvisor.errors import DataError

# libyaml's safe loader when present (several times faster), the pure-Python one otherwise;
# both refuse tags that construct objects.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: A path into a loaded document: ("schedule", "warmup") for schedule.warmup.
KeyPath = tuple[str, ...]


def read_text(path: str | os.PathLike[str], *, what: str = "file") -> str:
    """The text of ``path``, or a one-line :class:`DataError` saying why it cannot be read (see
    :func:`hpadvisor.io.inputs.read_input_text`: regular files only, at most 20 MB)."""
    from hpadvisor.io.inputs import read_input_text

    return read_input_text(path, what=what)


def loads(text: str, *, source: str = "<string>") -> tuple[Any, dict[KeyPath, int]]:
    """Parse one YAML document safely; return (data, {key path: 1-based line})."""
    try:
        loader = _LOADER(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None, {}
            lines: dict[KeyPath, int] = {}
            _walk(node, (), lines, source, set())
            _check_aliases(node, source)
            data = loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        tag = ""
        if exc.problem and "tag" in exc.problem:
            tag = exc.problem.split("tag", 1)[1].strip().strip("'")
            tag = tag.replace("tag:yaml.org,2002:", "!!")
        raise DataError(
            f"{source}: refused YAML tag {tag or '(unknown)'}{where}: it would construct an object. "
            "Run files hold plain values only; remove the tag."
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = " ".join(str(exc.problem or exc.context or "syntax error").split())
        started = ""
        if exc.problem and exc.context and exc.context_mark is not None:
            ctx = " ".join(str(exc.context).split()).removeprefix("while parsing ")
            cm = exc.context_mark
            started = f" ({ctx} started at line {cm.line + 1}, column {cm.column + 1})"
        raise DataError(f"{source}: invalid YAML{where}: {problem}{started}.") from None
    except yaml.YAMLError as exc:  # e.g. a control character the YAML reader refuses
        first = " ".join(str(exc).split())
        raise DataError(f"{source}: invalid YAML: {first}.") from None
    except RecursionError:
        raise DataError(f"{source}: invalid YAML: nested too deeply.") from None
    except ValueError as exc:  # PyYAML's int() of a number longer than Python reads
        from hpadvisor.io.inputs import digit_limit_error, is_digit_limit

        if is_digit_limit(exc):
            raise digit_limit_error(source) from None
        raise
    return data, lines


#: How much larger than the document itself aliases may make it, in nodes plus characters of text
#: (each alias counts as a copy of what it names).  Anchors that share a block of defaults add a few
#: kilobytes; a "billion laughs" document, nine aliases of nine aliases nine levels deep, 3 GB.
MAX_ALIAS_EXPANSION = 1_000_000


def _check_aliases(root: yaml.Node, source: str) -> None:
    """Refuse a document whose aliases expand it by more than MAX_ALIAS_EXPANSION, or that holds an
    alias to a node that contains it (a value that would be infinite): every reader turns values
    into text or walks them, which would never end."""
    own: dict[int, int] = {}  # node -> its own size (each node once)
    full: dict[int, int] = {}  # node -> its expanded size (aliases copied)
    open_: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in full:
            return full[key]
        if key in open_:
            mark = node.start_mark
            raise DataError(f"{source}: a YAML alias at or after line {mark.line + 1} refers to a value that "
                            "contains it (an endless value): write the value out.")
        open_.add(key)
        if isinstance(node, yaml.ScalarNode):
            total = 1 + len(str(node.value))
        else:
            children = [c for pair in node.value for c in pair] if isinstance(node, yaml.MappingNode) else node.value
            total = 1 + sum(size(c) for c in children)
            total = min(total, 10 * MAX_ALIAS_EXPANSION)  # enough to judge; keeps the numbers small
        open_.discard(key)
        full[key] = total
        own[key] = 1 + len(str(node.value)) if isinstance(node, yaml.ScalarNode) else 1
        return total

    expanded = size(root)
    if expanded - sum(own.values()) > MAX_ALIAS_EXPANSION:
        raise DataError(f"{source}: its YAML aliases (*name) expand it to more than {MAX_ALIAS_EXPANSION:,} "
                        "nodes and characters beyond what it holds (an alias bomb?): write the values out, or "
                        "alias fewer, smaller values.")


def _walk(
    node: yaml.Node, path: KeyPath, lines: dict[KeyPath, int], source: str, seen_nodes: set[int]
) -> None:
    # Aliases make the node tree a graph: visit each node once, or a "billion laughs" document
    # (and a self-referencing one) would take forever.
    if id(node) in seen_nodes:
        return
    seen_nodes.add(id(node))
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "<complex key>"
            line = key_node.start_mark.line + 1
            if key in seen:
                raise DataError(
                    f"{source}: key '{'.'.join(path + (key,))}' appears twice (lines {seen[key]} "
                    f"and {line}). Keep one."
                )
            seen[key] = line
            lines[path + (key,)] = line
            _walk(value_node, path + (key,), lines, source, seen_nodes)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[path + (str(i),)] = item.start_mark.line + 1
            _walk(item, path + (str(i),), lines, source, seen_nodes)


def load(path: str | os.PathLike[str], *, what: str = "file") -> tuple[Any, dict[KeyPath, int]]:
    """Read and safely parse a YAML file; see :func:`loads`."""
    return loads(read_text(path, what=what), source=str(path))


class _Dumper(yaml.SafeDumper):
    """The safe dumper, which also writes numpy scalars (a label read from a table is an
    ``np.str_``, a number an ``np.float64`` or ``np.int64``) and tuples as the plain values they hold."""


def _represent_plain(dumper: _Dumper, data: Any) -> yaml.Node:
    if isinstance(data, str):
        return dumper.represent_str(str(data))
    if isinstance(data, float):
        return dumper.represent_float(float(data))
    if isinstance(data, tuple):
        return dumper.represent_list(list(data))
    item = getattr(data, "item", None)
    if callable(item) and getattr(data, "shape", None) == ():  # a numpy scalar (not an array)
        value = item()
        if isinstance(value, (bool, int, float, str)):
            return dumper.represent_data(value)
    raise yaml.representer.RepresenterError("cannot represent an object", data)


_Dumper.add_multi_representer(object, _represent_plain)


def dumps(data: Any) -> str:
    """YAML text for plain data (dicts keep their order; numpy scalars as plain values)."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
