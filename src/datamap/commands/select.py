"""``datamap select``: choose a subset of a run's training set from its data map."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from datamap.core.selection import SWEEP_FRACTIONS, Recipe, select as select_rows, sweep as sweep_rows
from datamap.errors import DatamapError
from datamap.io.rundir import RunDir
from datamap.io.selection import check_name, save_selection


def parse_amount(text: str | None, flag: str) -> float | int | None:
    """``"0.33"`` -> 0.33 (a fraction), ``"100"`` -> 100 (a count); ``None`` stays ``None``.

    A value with a decimal point or an exponent is a fraction, a whole number is a count.
    """
    if text is None:
        return None
    s = str(text).strip()
    try:
        if any(c in s for c in ".eE"):
            return float(s)
        return int(s)
    except ValueError:
        raise DatamapError(f"{flag} {text!r}: expected a fraction like 0.33 or a count like 100") from None


def parse_fractions(text: str | None) -> tuple[float, ...]:
    """``"0.1,0.2"`` -> (0.1, 0.2); ``None`` -> allenai's sweep fractions."""
    if text is None or not text.strip():
        return SWEEP_FRACTIONS
    try:
        return tuple(float(x) for x in text.split(","))
    except ValueError:
        raise DatamapError(f"--fractions {text!r}: expected comma-separated fractions like 0.1,0.25") from None


def select(
    run: Annotated[Path, typer.Argument(help="Run directory holding metrics.parquet (and data.parquet).")],
    out: Annotated[str, typer.Option("--out", help="Selection name: writes RUN/selections/NAME.json (+ .parquet).")],
    ambiguous: Annotated[float, typer.Option(help="Fraction of the whole set from the ambiguous ranking (highest variability).")] = 0.0,
    easy: Annotated[float, typer.Option(help="Fraction from the easy-to-learn ranking (highest confidence).")] = 0.0,
    hard: Annotated[float, typer.Option(help="Fraction from the hard-to-learn ranking (lowest confidence).")] = 0.0,
    random: Annotated[float, typer.Option(help="Fraction drawn at random from what the other parts left.")] = 0.0,
    by: Annotated[Optional[str], typer.Option(help="Rank by this metric column (with --top or --bottom).")] = None,
    top: Annotated[Optional[str], typer.Option(help="Highest values of --by: a fraction (0.33) or a count (100).")] = None,
    bottom: Annotated[Optional[str], typer.Option(help="Lowest values of --by: a fraction (0.25) or a count (100).")] = None,
    sweep: Annotated[bool, typer.Option(help="Write one selection per fraction (NAME_01, NAME_05, ...), varying the one part given.")] = False,
    fractions: Annotated[Optional[str], typer.Option(help="Fractions for --sweep, comma-separated (default 0.01,0.05,0.10,0.17,0.25,0.33,0.50,0.75).")] = None,
    where: Annotated[Optional[list[str]], typer.Option(help="Filter such as 'confidence<0.5' or 'region==ambiguous' (repeatable; all must hold).")] = None,
    data_pct: Annotated[Optional[float], typer.Option(help="Keep a random fraction in (0, 1] of the selection (of everything if no part is given).")] = None,
    drop_hard: Annotated[bool, typer.Option(help="Remove the hard-to-learn region before anything else.")] = False,
    stratify: Annotated[bool, typer.Option(help="Apply the fractions within each gold class.")] = False,
    seed: Annotated[int, typer.Option(help="Seed of the random draws.")] = 0,
    csv: Annotated[bool, typer.Option(help="Also write the subset rows as CSV.")] = False,
    dataset: Annotated[Optional[str], typer.Option(help="Name the CSV allenai-style DATASET_NAME.csv.")] = None,
) -> list[Path]:
    """Select a subset of RUN's training set from its data map and save it under RUN/selections/.

    Parts (ambiguous, easy, hard, --by ranking, random) are drawn in that order and never overlap;
    a fraction f takes floor(f x N) examples of the whole set of N. Filters (--where) and
    --drop-hard narrow what can be drawn; --data-pct thins the result at random.

    Examples:

      datamap select runs/snli --out ambiguous33 --ambiguous 0.33

      datamap select runs/snli --out amb_rand --ambiguous 0.33 --random 0.10 --seed 1

      datamap select runs/snli --out top_aum --by aum --bottom 1000

      datamap select runs/snli --out amb --ambiguous 0.33 --sweep

      datamap select runs/snli --out unsure --where 'confidence<0.5' --where 'variability>=0.2' --drop-hard

      datamap select runs/snli --out half --data-pct 0.5 --stratify --csv --dataset snli
    """
    import pandas as pd
    from rich.console import Console

    console = Console()
    check_name(out)
    rd = RunDir(run)
    rd.require(rd.metrics, hint="run `datamap metrics` first")
    try:
        metrics = pd.read_parquet(rd.metrics)
    except Exception as exc:  # pyarrow raises several types for a broken file
        raise DatamapError(f"{rd.metrics}: cannot read ({exc})") from exc
    label_names = rd.label_names() if rd.labels.exists() else None
    recipe = Recipe(
        ambiguous=ambiguous,
        easy=easy,
        hard=hard,
        random=random,
        by=by,
        top=parse_amount(top, "--top"),
        bottom=parse_amount(bottom, "--bottom"),
        where=tuple(where or ()),
        data_pct=data_pct,
        drop_hard=drop_hard,
        stratify=stratify,
    )
    if sweep:
        results = sweep_rows(metrics, recipe, fractions=parse_fractions(fractions), seed=seed, label_names=label_names)
        named = [(f"{out}_{int(round(f * 100)):02d}", r) for f, r in results.items()]
    else:
        if fractions is not None:
            raise DatamapError("--fractions only applies with --sweep")
        named = [(out, select_rows(metrics, recipe, seed=seed, label_names=label_names))]

    formats: tuple[str, ...] = ("parquet", "csv") if csv else ("parquet",)
    data_df = None
    if rd.data.exists():
        data_df = pd.read_parquet(rd.data)
    else:
        if csv:
            raise DatamapError(f"{rd.data}: missing from the run directory (needed for --csv)")
        console.print(f"[yellow]note:[/] {rd.data} not found: writing only the selection JSON")
        formats = ()
    written: list[Path] = []
    for name, result in named:
        paths = save_selection(rd.root, name, result, data_df=data_df, formats=formats, dataset=dataset)
        written.extend(paths.values())
        parts = ", ".join(f"{k} {v}" for k, v in result.sizes.items())
        classes = ", ".join(f"{k} {v}" for k, v in result.class_sizes.items())
        console.print(
            f"{name}: {len(result)} of {result.n_total} examples ({parts})"
            + (f"; per class: {classes}" if classes else "")
            + f" -> {paths['json']}"
        )
    return written
