"""``datamap compare``: the eval scores of several runs side by side."""

from __future__ import annotations

import sys

import json
from pathlib import Path
from typing import Annotated, Any, Optional, Sequence

import typer

from datamap.errors import DatamapError
from datamap.io.atomic import atomic_path, write_json
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
        try:
            scores = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DatamapError(f"{path}: not valid JSON ({exc})") from exc
        if not isinstance(scores, dict):
            raise DatamapError(f"{path}: expected a JSON object of scores")
        out[path.stem] = flatten_scores(scores)
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


def compare(
    runs: Annotated[list[Path], typer.Argument(help="Run directories to compare (their eval/*.json).")],
    sets: Annotated[Optional[list[str]], typer.Option("--set", help="Evaluation set to show (repeatable; default all).")] = None,
    metrics: Annotated[Optional[list[str]], typer.Option("--metric", help="Score to show (repeatable; default accuracy, f1_macro, ece; dotted keys for nested scores).")] = None,
    csv: Annotated[Optional[Path], typer.Option("--csv", help="Also write the table as CSV here.")] = None,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Also write the table as JSON here.")] = None,
) -> list[dict[str, Any]]:
    """Show the evaluation scores (RUN/eval/*.json) of several runs side by side.

    One row per (evaluation set, score), one column per run; '-' where a run lacks the score.

    Examples:

      datamap compare runs/full runs/ambiguous33 runs/random33

      datamap compare runs/a runs/b --set validation --set hans --metric accuracy

      datamap compare runs/a runs/b --metric heuristics.lexical_overlap.non-entailment.accuracy

      datamap compare runs/a runs/b --csv compare.csv --json compare.json
    """
    from rich.console import Console
    from rich.table import Table

    labels, rows = compare_table(runs, sets, metrics)
    table = Table(title="evaluation scores")
    table.add_column("set")
    table.add_column("metric")
    for label in labels:
        table.add_column(label, justify="right")
    for row in rows:
        table.add_row(row["set"], row["metric"], *("-" if row[c] is None else f"{row[c]:.4f}" for c in labels))
    # piped or logged output: rich would squeeze the table to 80 columns and cut run names
    Console(width=None if sys.stdout.isatty() else 200).print(table)

    if csv is not None:
        import pandas as pd

        with atomic_path(csv) as tmp:
            pd.DataFrame(rows, columns=["set", "metric", *labels]).to_csv(tmp, index=False)
    if json_out is not None:
        write_json(json_out, {"runs": [str(r) for r in runs], "columns": labels, "rows": rows})
    return rows
