"""The static data map (PNG): variability (x) vs confidence (y), coloured by correctness.

Correctness takes only ``E + 1`` values (correct in 0..E of the E epochs), so, as in
allenai/cartography, every value gets its own colour and marker and a legend entry ("correct in
k of E epochs"). Up to 20,000 points the map is a rasterised scatter; above that, hexagons
coloured by the most common correctness value of the examples inside them, so 100k+ points stay
readable. Region labels and marginal histograms of confidence, variability and correctness
(over all examples) complete the figure.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pandas as pd

from datamap.core.sampling import sample_positions
from datamap.errors import DatamapError
from datamap.io import atomic
from datamap.io.readers import read_parquet
from datamap.io.rundir import RunDir

#: The colour of each region on every page (PNG labels, report map, interactive map via its payload).
REGION_COLORS = {"easy": "#1a9850", "ambiguous": "#fd8d3c", "hard": "#d7301f", "none": "#969696"}


def region_rgb() -> dict[str, list[int]]:
    """:data:`REGION_COLORS` as ``{region: [r, g, b]}`` (0-255), what the interactive map's script reads."""
    return {r: [int(c[i:i + 2], 16) for i in (1, 3, 5)] for r, c in REGION_COLORS.items()}

HEXBIN_ABOVE = 20_000  # points; above this the scatter becomes a hexagon map of modal correctness
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "p", "h", "*")


def correctness_epochs(correctness: np.ndarray, hint: int | None = None, max_epochs: int = 200) -> int | None:
    """The number of epochs ``E`` that the fractions ``correctness`` count in (each value is k/E).

    ``hint`` (``epochs_used`` of metrics.json) is used when every value is a multiple of 1/hint;
    otherwise the smallest such ``E`` up to ``max_epochs`` is found; None when there is none.
    """
    c = np.asarray(correctness, dtype=np.float64)
    c = np.unique(c[np.isfinite(c)])
    cands = ([int(hint)] if hint else []) + list(range(1, max_epochs + 1))
    for e in cands:
        if e >= 1 and np.all(np.abs(c * e - np.round(c * e)) < 2.5e-7 * e):  # float32 k/E is within 6e-8 k/E
            return e
    return None


def correctness_colors(n_epochs: int) -> list[tuple[float, float, float]]:
    """One colour per correctness count 0..E: red (never correct) through grey to blue (always)."""
    lo, mid, hi = np.array([0.80, 0.15, 0.15]), np.array([0.55, 0.55, 0.55]), np.array([0.13, 0.35, 0.75])
    out = []
    for k in range(n_epochs + 1):
        t = k / n_epochs if n_epochs else 1.0
        c = lo + (mid - lo) * (t / 0.5) if t <= 0.5 else mid + (hi - mid) * ((t - 0.5) / 0.5)
        out.append(tuple(float(v) for v in c))
    return out


def _mode(values) -> int:
    return int(np.bincount(np.asarray(values, dtype=np.int64)).argmax())


def plot_map(metrics: pd.DataFrame, title: str = "Data map", max_points: int | None = None, seed: int = 0,
             epochs: int | None = None, subtitle: str = "") -> bytes:
    """Render the data map of a metrics table to PNG bytes.

    ``max_points`` draws a seeded random sample in the scatter only (histograms use every
    example) and says so in the title; by default every point is drawn. ``epochs`` is the number
    of epochs correctness counts in (metrics.json ``epochs_used``); found from the values if None.
    """
    return figure_png(map_figure(metrics, title, max_points, seed, epochs, subtitle))


def figure_png(fig) -> bytes:
    """PNG bytes of a matplotlib figure (tight bounding box); the figure is closed."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


#: sft runs: token accuracy (continuous) is shown in this many equal bins, each its own colour and marker.
SFT_ACCURACY_BINS = 5
#: The map's axis titles by run kind (``metrics.json`` ``kind``; classifier runs have none).
AXIS_LABELS = {
    "classify": ("variability", "confidence"),
    "sft": ("variability (std over record points of the geometric-mean token probability)",
            "confidence (mean geometric-mean token probability)"),
}


def accuracy_bins(correctness: np.ndarray, bins: int = SFT_ACCURACY_BINS) -> np.ndarray:
    """Bin of each token accuracy in [0, 1]: ``floor(acc * bins)``, 1.0 in the last bin."""
    return np.clip(np.floor(np.asarray(correctness, dtype=np.float64) * bins), 0, bins - 1).astype(np.int64)


def map_figure(metrics: pd.DataFrame, title: str = "Data map", max_points: int | None = None, seed: int = 0,
               epochs: int | None = None, subtitle: str = "", kind: str = "classify"):
    """The matplotlib figure of :func:`plot_map` (its first axes is the map); ``subtitle``: lines above the axes.

    ``kind="sft"``: the metrics of an sft run; correctness is token accuracy (continuous), shown in
    :data:`SFT_ACCURACY_BINS` bins, and the axes name the token-level meanings."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for col in ("confidence", "variability", "correctness"):
        if col not in metrics.columns:
            raise DatamapError(f"metrics table has no '{col}' column")
    n = len(metrics)
    shown = metrics
    note = f"{n:,} examples"
    keep = sample_positions(n, max_points, seed=seed)  # the same rows as the HTML map's
    if keep is not None:
        shown = metrics.iloc[keep]
        note = f"{max_points:,} of {n:,} examples shown (random sample); histograms use all"
    x = shown["variability"].to_numpy()
    y = shown["confidence"].to_numpy()
    corr = shown["correctness"].to_numpy()

    fig = plt.figure(figsize=(12.5, 8), dpi=110)
    gs = fig.add_gridspec(3, 2, width_ratios=[3, 1.1], hspace=0.45, wspace=0.32)
    ax = fig.add_subplot(gs[:, 0])
    sft = kind == "sft"
    if sft:  # token accuracy: bins 0..B-1 play the part of "correct in k of E epochs"
        n_epochs = SFT_ACCURACY_BINS - 1
        level = accuracy_bins(corr)
    else:
        n_epochs = correctness_epochs(metrics["correctness"].to_numpy(), epochs)
        if n_epochs is None:
            raise DatamapError("metrics table: correctness values are not fractions k/E of an epoch count E <= 200")
        level = np.round(corr * n_epochs).astype(np.int64)  # correct in `level` of the n_epochs epochs
    colors = correctness_colors(n_epochs)
    from matplotlib.colors import BoundaryNorm, ListedColormap
    from matplotlib.lines import Line2D

    if len(shown) > HEXBIN_ABOVE:
        # many points: hexagons coloured by the most common correctness value of the examples they
        # hold, so dense and sparse areas stay readable (a scatter would be a blur)
        ax.hexbin(x, y, C=level, reduce_C_function=_mode, gridsize=110, cmap=ListedColormap(colors),
                  norm=BoundaryNorm(np.arange(n_epochs + 2) - 0.5, n_epochs + 1), mincnt=1, linewidths=0)
        legend_title = ("correctness: token accuracy, mean over record points" if sft else
                        "correctness: correct in k of E epochs") + " (hexagons: the most common value inside)"
    else:
        size = float(np.clip(40_000 / max(len(shown), 1), 2, 25))
        alpha = float(np.clip(3_000 / max(len(shown), 1), 0.35, 0.9))
        for k in range(n_epochs, -1, -1):  # draw the less-correct points on top
            on = level == k
            if on.any():
                ax.scatter(x[on], y[on], color=colors[k], marker=MARKERS[k % len(MARKERS)], s=size, alpha=alpha,
                           linewidths=0, rasterized=True)
        legend_title = ("correctness: token accuracy, mean over record points" if sft else
                        "correctness: correct in k of E epochs")
    all_levels = (accuracy_bins(metrics["correctness"].to_numpy()) if sft else
                  np.round(metrics["correctness"].to_numpy() * n_epochs).astype(np.int64))
    level_counts = np.bincount(all_levels, minlength=n_epochs + 1)

    def level_name(k: int) -> str:
        if sft:
            b = SFT_ACCURACY_BINS
            return f"{k / b:.1f}–{(k + 1) / b:.1f}" + ("]" if k == b - 1 else ")")
        return f"{k}/{n_epochs} epochs"

    handles = [Line2D([], [], linestyle="", marker=MARKERS[k % len(MARKERS)], color=colors[k], markersize=7,
                      label=f"{level_name(k)} ({int(level_counts[k]):,})") for k in range(n_epochs + 1)]
    ax.legend(handles=handles, title=legend_title, loc="upper center", bbox_to_anchor=(0.5, -0.08), fontsize=8,
              title_fontsize=8, frameon=False, ncol=min(n_epochs + 1, 6))
    ax.set_xlabel(AXIS_LABELS[kind][0])
    ax.set_ylabel(AXIS_LABELS[kind][1])
    xmax = float(np.nanmax(x)) if len(x) else 0.0
    ax.set_xlim(0, max(xmax * 1.08, 0.02))  # variability <= 0.5; use the room the data needs
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"{title} ({note})")
    if subtitle:  # the run's description and health warnings, above everything (fig.texts)
        fig.text(0.06, 0.995, subtitle, ha="left", va="bottom", fontsize=8.5, wrap=True,
                 color="#b2182b" if "⚠" in subtitle else "0.25")
    box = dict(boxstyle="round,pad=0.3", fc="white", alpha=0.8, ec="0.5")
    # easy = high confidence (top), hard = low confidence (bottom), ambiguous = high variability (right)
    ax.text(0.02, 0.97, "easy-to-learn", transform=ax.transAxes, va="top", bbox=box, color=REGION_COLORS["easy"])
    ax.text(0.02, 0.03, "hard-to-learn", transform=ax.transAxes, va="bottom", bbox=box, color=REGION_COLORS["hard"])
    ax.text(0.97, 0.5, "ambiguous", transform=ax.transAxes, ha="right", bbox=box, color=REGION_COLORS["ambiguous"])
    if "region" in metrics.columns:
        counts = metrics["region"].value_counts()
        text = "\n".join(f"{r}: {int(counts.get(r, 0)):,}" for r in ("easy", "ambiguous", "hard", "none"))
        ax.text(0.97, 0.97, text, transform=ax.transAxes, ha="right", va="top", fontsize=8, bbox=box)

    for row, (col, color) in enumerate(
        (("confidence", "#4c72b0"), ("variability", "#8172b2"), ("correctness", "#55a868"))
    ):
        h = fig.add_subplot(gs[row, 1])
        vals = metrics[col].to_numpy()
        if col == "correctness":  # one bar per value k/E, labelled by the count of correct epochs
            h.bar(np.arange(n_epochs + 1), level_counts, color=colors, width=0.85)
            h.set_xticks(_int_ticks(n_epochs))
            if sft:
                h.set_xticklabels([level_name(k) for k in _int_ticks(n_epochs)], fontsize=6)
            h.set_xlabel("token accuracy" if sft else f"correct in k of {n_epochs} epochs", fontsize=7)
        else:
            h.hist(vals[np.isfinite(vals)], bins=30, color=color, alpha=0.85)
        h.set_title(f"{col} (token accuracy)" if sft and col == "correctness" else col, fontsize=9)
        h.tick_params(labelsize=7)
        h.set_ylabel("examples", fontsize=7)
    return fig


def _int_ticks(n: int) -> list[int]:
    step = max(1, int(np.ceil((n + 1) / 11)))
    return list(range(0, n + 1, step))


def write_map_png(run_dir: str | os.PathLike, out: str | os.PathLike | None = None, max_points: int | None = None,
                  overwrite: bool = False, seed: int = 0) -> Path:
    """Draw RUN/metrics.parquet into RUN/map.png (or ``out``).

    Parameters
    ----------
    run_dir : path
        Run directory holding ``metrics.parquet``.
    out : path or None, default None
        Output file (default ``RUN/map.png``); a folder is refused.
    max_points : int or None, default None
        Draw a seeded random sample of at most this many points (>= 1); ``None``: all.
    seed : int, default 0
        Seed of that sample: the same points as ``write_html_map`` draws with the same seed.
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
    return atomic.write_bytes(target, figure_png(run_map_figure(run, max_points, seed)))


def map_subtitle(run: RunDir) -> str:
    """The PNG's subtitle: the run's description, then one ``⚠`` line per health warning."""
    from datamap.views.findings import describe_run, run_findings, warnings_of

    lines = [describe_run(run)]
    lines += [f"⚠ {f.check}: {f.message}" for f in warnings_of(run_findings(run))]
    return "\n".join(line for line in lines if line)


def run_map_figure(run: RunDir, max_points: int | None = None, seed: int = 0):
    """The figure ``map.png`` is drawn from (title, map, histograms, subtitle); used by :func:`write_map_png`."""
    metrics = read_parquet(run.metrics, columns=["confidence", "variability", "correctness", "region"])
    kind = metrics_kind(run)
    return map_figure(metrics, title=f"{'Data map (sft, token level)' if kind == 'sft' else 'Data map'} of {run.root.name}",
                      max_points=max_points, seed=seed, epochs=epochs_used(run), subtitle=map_subtitle(run), kind=kind)


def metrics_kind(run: RunDir) -> str:
    """``"sft"`` when RUN/metrics.json says ``"kind": "sft"`` (``datamap metrics`` of an sft run), else ``"classify"``."""
    import json

    try:
        kind = json.loads(run.metrics_json.read_text(encoding="utf-8")).get("kind")
    except (OSError, ValueError, AttributeError):
        return "classify"
    return "sft" if kind == "sft" else "classify"


def epochs_used(run: RunDir) -> int | None:
    """``epochs_used`` of RUN/metrics.json (the epochs correctness counts in); None if unknown."""
    import json

    try:
        value = json.loads(run.metrics_json.read_text(encoding="utf-8")).get("epochs_used")
    except (OSError, ValueError, AttributeError):
        return None
    return int(value) if isinstance(value, int) and value >= 1 else None
