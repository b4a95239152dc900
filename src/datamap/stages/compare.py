"""The compare stage: the evaluation scores (RUN/eval/*.json) of several runs side by side."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from datamap.errors import DatamapError
from datamap.io.atomic import atomic_path, write_json
from datamap.io.readers import read_scores
from datamap.io.rundir import RunDir

DEFAULT_METRICS = ("accuracy", "f1_macro", "ece")


def flatten_scores(scores: Any, prefix: str = "") -> dict[str, float]:
    """Numeric leaves of a scores dict with dotted keys (``per_class.pos.f1``); lists are skipped."""
    flat: dict[str, float] = {}
    if isinstance(scores, dict):
        for k, v in scores.items():
            key = f"{prefix}.{k}" if prefix else str(k)
            if isinstance(v, dict):
                flat.update(flatten_scores(v, key))
            elif isinstance(v, (int, float)) and not isinstance(v, bool):
                flat[key] = float(v)
    return flat


def read_eval_scores(run: Path) -> dict[str, dict[str, float]]:
    """``{set: flattened scores}`` of every ``RUN/eval/*.json``; malformed files raise DatamapError."""
    rd = RunDir(run)
    if not rd.root.is_dir():
        raise DatamapError(f"{rd.root}: run directory not found")
    out: dict[str, dict[str, float]] = {}
    if not rd.eval_dir.is_dir():
        return out
    for path in sorted(rd.eval_dir.glob("*.json")):
        out[path.stem] = flatten_scores(read_scores(path))
    return out


def run_labels(runs: Sequence[Path]) -> list[str]:
    """Column names for runs: the folder name, or the full path where two folder names clash."""
    names = [Path(r).name or str(r) for r in runs]
    return [str(r) if names.count(n) > 1 else n for r, n in zip(runs, names)]


def compare_table(
    runs: Sequence[Path],
    sets: Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
) -> tuple[list[str], list[dict[str, Any]]]:
    """Build the comparison table.

    Parameters
    ----------
    runs : sequence of Path
        Run directories; each contributes one column.
    sets : sequence of str or None, default None
        Evaluation sets (``eval/<set>.json`` stems) to show; ``None`` = every set found in any run.
    metrics : sequence of str or None, default None
        Score keys to show (dotted for nested ones, e.g. ``heuristics.lexical_overlap.all.accuracy``);
        ``None`` = ``accuracy``, ``f1_macro``, ``ece``. A row appears when at least one run has it.

    Returns
    -------
    (columns, rows)
        ``columns`` = run labels; each row = ``{"set", "metric", <run label>: value or None}``.
    """
    if not runs:
        raise DatamapError("compare needs at least one run directory")
    labels = run_labels(runs)
    per_run = [read_eval_scores(Path(r)) for r in runs]
    found = sorted(set().union(*[s.keys() for s in per_run]))
    if not found:
        raise DatamapError(f"no eval/*.json scores in {', '.join(map(str, runs))} (run `datamap evaluate` first)")
    if sets:
        unknown = [s for s in sets if s not in found]
        if unknown:
            raise DatamapError(f"evaluation set {unknown[0]!r} not found in any run (found: {', '.join(found)})")
        chosen_sets = list(sets)
    else:
        chosen_sets = found
    keys = list(metrics) if metrics else list(DEFAULT_METRICS)
    rows: list[dict[str, Any]] = []
    for s in chosen_sets:
        for m in keys:
            values = [scores.get(s, {}).get(m) for scores in per_run]
            if all(v is None for v in values):
                continue
            rows.append({"set": s, "metric": m, **dict(zip(labels, values))})
    if not rows:
        raise DatamapError(f"none of the metrics {', '.join(keys)} found in the chosen evaluation sets")
    return labels, rows


def write_compare(rows: list[dict[str, Any]], labels: list[str], runs: Sequence[Path], csv: Path | None = None,
                  json_out: Path | None = None) -> None:
    """Write a :func:`compare_table` result as CSV and/or JSON (atomically)."""
    if csv is not None:
        import pandas as pd

        with atomic_path(csv) as tmp:
            pd.DataFrame(rows, columns=["set", "metric", *labels]).to_csv(tmp, index=False)
    if json_out is not None:
        write_json(json_out, compare_json(rows, labels, runs))


def compare_json(rows: list[dict[str, Any]], labels: list[str], runs: Sequence[Path]) -> dict[str, Any]:
    """The JSON form of a :func:`compare_table` result (``compare --json``): runs, columns, rows."""
    return {"runs": [str(r) for r in runs], "columns": labels, "rows": rows}
