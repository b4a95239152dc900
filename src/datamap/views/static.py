"""The static data map (PNG): variability (x) vs confidence (y), coloured by correctness.

Up to 20,000 points: a rasterised scatter coloured by correctness (binned by tenths, as in
Swayamdipta et al. 2020). Above that, hexagons coloured by the mean correctness of the examples
inside them, so 100k+ points stay readable. Region labels and marginal histograms of
confidence, variability and correctness (over all examples) complete the figure.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pandas as pd

from datamap.errors import DatamapError
from datamap.io import atomic
from datamap.io.readers import read_parquet
from datamap.io.rundir import RunDir

HEXBIN_ABOVE = 20_000  # points; above this the scatter becomes a hexagon map of mean correctness


def plot_map(metrics: pd.DataFrame, title: str = "Data map", max_points: int | None = None, seed: int = 0) -> bytes:
    """Render the data map of a metrics table to PNG bytes.

    ``max_points`` draws a seeded random sample in the scatter only (histograms use every
    example) and says so in the title; by default every point is drawn.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for col in ("confidence", "variability", "correctness"):
        if col not in metrics.columns:
            raise DatamapError(f"metrics table has no '{col}' column")
    n = len(metrics)
    shown = metrics
    note = f"{n:,} examples"
    if max_points is not None and n > max_points:
        shown = metrics.sample(n=max_points, random_state=seed)
        note = f"{max_points:,} of {n:,} examples shown (random sample); histograms use all"
    x = shown["variability"].to_numpy()
    y = shown["confidence"].to_numpy()
    corr = shown["correctness"].to_numpy()

    fig = plt.figure(figsize=(12.5, 8), dpi=110)
    gs = fig.add_gridspec(3, 2, width_ratios=[3, 1.1], hspace=0.45, wspace=0.32)
    ax = fig.add_subplot(gs[:, 0])
    cmap = plt.get_cmap("viridis")  # same palette as the interactive map
    if len(shown) > HEXBIN_ABOVE:
        # many points: hexagons coloured by the mean correctness of the examples they hold,
        # so dense and sparse areas stay readable (a scatter would be a blur)
        sc = ax.hexbin(x, y, C=corr, reduce_C_function=np.mean, gridsize=110, cmap=cmap, vmin=0, vmax=1,
                       mincnt=1, linewidths=0)
        label = "mean correctness (hexagons)"
    else:
        size = float(np.clip(40_000 / max(len(shown), 1), 2, 25))
        alpha = float(np.clip(3_000 / max(len(shown), 1), 0.35, 0.9))
        levels = np.round(corr * 10) / 10  # correctness bins as in the cartography paper
        order = np.argsort(-levels, kind="stable")  # draw the less-correct points on top
        sc = ax.scatter(x[order], y[order], c=levels[order], cmap=cmap, vmin=0, vmax=1, s=size, alpha=alpha,
                        linewidths=0, rasterized=True)
        label = "correctness"
    cb = fig.colorbar(sc, ax=ax, pad=0.01, fraction=0.04)
    cb.set_label(label)
    ax.set_xlabel("variability")
    ax.set_ylabel("confidence")
    xmax = float(np.nanmax(x)) if len(x) else 0.0
    ax.set_xlim(0, max(xmax * 1.08, 0.02))  # variability <= 0.5; use the room the data needs
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"{title} ({note})")
    box = dict(boxstyle="round,pad=0.3", fc="white", alpha=0.8, ec="0.5")
    ax.text(0.02, 0.97, "easy-to-learn", transform=ax.transAxes, va="top", bbox=box, color="#1b4f9c")
    ax.text(0.02, 0.03, "hard-to-learn", transform=ax.transAxes, va="bottom", bbox=box, color="#b2182b")
    ax.text(0.97, 0.5, "ambiguous", transform=ax.transAxes, ha="right", bbox=box, color="#6a3d9a")
    if "region" in metrics.columns:
        counts = metrics["region"].value_counts()
        text = "\n".join(f"{r}: {int(counts.get(r, 0)):,}" for r in ("easy", "ambiguous", "hard", "none"))
        ax.text(0.97, 0.97, text, transform=ax.transAxes, ha="right", va="top", fontsize=8, bbox=box)

    for row, (col, color) in enumerate(
        (("confidence", "#4c72b0"), ("variability", "#8172b2"), ("correctness", "#55a868"))
    ):
        h = fig.add_subplot(gs[row, 1])
        vals = metrics[col].to_numpy()
        bins = np.linspace(0, 1, 12) if col == "correctness" else 30
        h.hist(vals[np.isfinite(vals)], bins=bins, color=color, alpha=0.85)
        h.set_title(col, fontsize=9)
        h.tick_params(labelsize=7)
        h.set_ylabel("examples", fontsize=7)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def write_map_png(run_dir: str | os.PathLike, out: str | os.PathLike | None = None, max_points: int | None = None,
                  overwrite: bool = False) -> Path:
    """Draw RUN/metrics.parquet into RUN/map.png (or ``out``).

    Parameters
    ----------
    run_dir : path
        Run directory holding ``metrics.parquet``.
    out : path or None, default None
        Output file (default ``RUN/map.png``); a folder is refused.
    max_points : int or None, default None
        Draw a seeded random sample of at most this many points (>= 1); ``None``: all.
    overwrite : bool, default False
        Replace an existing output file; without it the file is refused before any work.
    """
    from datamap.core.checks import check_int
    from datamap.errors import user_errors

    run = RunDir(run_dir)
    if max_points is not None:
        with user_errors():
            check_int(max_points, "--max-points", low=1)
    target = Path(out) if out is not None else run.map_png
    atomic.refuse_existing(target, overwrite, "--out" if out is not None else "")
    run.require(run.metrics, hint="run `datamap metrics RUN` first")
    metrics = read_parquet(run.metrics, columns=["confidence", "variability", "correctness", "region"])
    title = f"Data map of {run.root.name}"
    return atomic.write_bytes(target, plot_map(metrics, title=title, max_points=max_points))
