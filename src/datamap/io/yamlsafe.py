"""The one YAML loader of datamap: safe, bounded, strict.

Every YAML datamap reads (experiment files, a run's ``config.yaml``, ``--set``-style override
values) goes through :func:`load_yaml` or :func:`load_yaml_file`, which differ from
``yaml.safe_load`` in that they

- refuse a key given twice in one mapping (``safe_load`` silently keeps the last);
- bound the document: at most :data:`MAX_NODES` nodes with every alias expanded (an "alias bomb"
  of nested ``*refs`` is refused before anything walks it) and :data:`MAX_DEPTH` levels of nesting;
- give one line (``DatamapError``) naming the file, line and problem for bad YAML, a file that is
  not UTF-8, or a document too deep or too large.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from datamap.errors import DatamapError

#: most nodes a document may expand to (each alias counted as a copy of what it names)
MAX_NODES = 100_000
#: deepest nesting of mappings and lists
MAX_DEPTH = 64


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys."""

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                continue  # the base class raises its own error for an unhashable key
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first at line {seen[key] + 1})", key_node.start_mark)
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


def _check_size(root, source: str) -> None:
    """Expanded node count (aliases included, memoised per node) and depth of the composed document."""
    sizes: dict[int, int] = {}
    # iterative post-order walk: (node, depth, children visited?)
    stack = [(root, 1, False)]
    while stack:
        node, depth, done = stack.pop()
        if id(node) in sizes and not done:
            continue
        if depth > MAX_DEPTH:
            raise DatamapError(f"{source}: nested more than {MAX_DEPTH} levels deep")
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        else:
            sizes[id(node)] = 1
            continue
        if not done:
            stack.append((node, depth, True))
            stack.extend((c, depth + 1, False) for c in children if id(c) not in sizes)
            continue
        total = 1 + sum(sizes.get(id(c), 1) for c in children)
        if total > MAX_NODES:
            raise DatamapError(f"{source}: expands to more than {MAX_NODES:,} values (aliases counted as copies); "
                               "refusing to load it")
        sizes[id(node)] = total


def load_yaml(text: str, source: str = "YAML") -> Any:
    """Parse one YAML document from ``text``; ``source`` names it in the one-line errors."""
    try:
        loader = _StrictLoader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            _check_size(node, source)
            return loader.construct_document(node)
        finally:
            loader.dispose()
    except RecursionError:
        raise DatamapError(f"{source}: nested too deeply to read") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise DatamapError(f"{source}: not valid YAML{where}: {problem}") from None


def load_yaml_file(path: "str | os.PathLike") -> Any:
    """Read and parse a YAML file (UTF-8); one line naming the file for every problem."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DatamapError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DatamapError(f"{path}: not UTF-8 text (byte {exc.start}: {data[exc.start:exc.start + 1]!r}); "
                           "save it as UTF-8") from None
    return load_yaml(text, str(path))
