"""The results of an experiment: one table, a summary over seeds, plots and ``experiment.html``.

``OUT/results.parquet`` and ``OUT/results.csv`` hold one row per run x evaluation set x metric
(``seed``, ``run``, ``experiment``, ``selection``, ``fraction`` (the share of the cartography run's
examples the run trained on; 1 for the full data), ``eval_set``, ``metric``, ``value``).
``OUT/summary.csv`` and ``OUT/summary.md`` give the mean, the sample standard deviation (ddof 1;
empty for one seed) and n per run x set x metric. ``OUT/plots/``: score against data fraction per
selector with error bars (one figure per set and summary metric), per-epoch curves, the cartography
data map; ``OUT/experiment.html`` gathers them (self-contained; every text escaped).
"""

from __future__ import annotations

import html
import json

import numpy as np
import pandas as pd

from datamap.io import atomic

COLUMNS = ["seed", "run", "experiment", "selection", "fraction", "eval_set", "metric", "value"]
SKIP = {"n", "per_class", "confusion", "label_names", "model", "ensemble"}


def flatten_scores(scores: dict, prefix: str = "") -> dict[str, float]:
    """Numeric leaves of an ``eval/SET.json`` as ``{dotted.key: value}`` (``per_class``, ``confusion``, ``n`` left out)."""
    out: dict[str, float] = {}
    for k, v in scores.items():
        if not prefix and k in SKIP:
            continue
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten_scores(v, key + "."))
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out[key] = float(v)
    return out


def _fraction(run) -> float:
    if run.selection is None:
        return 1.0
    path = run.path.parent / "cartography" / "selections" / f"{run.selection}.json"
    chosen = json.loads(path.read_text(encoding="utf-8"))
    return len(chosen["ids"]) / int(chosen["sizes"]["dataset"])


def collect(runs, eval_sets: list[str]) -> pd.DataFrame:
    """The results table of the runs of a plan (``RunInfo``) on the named sets; missing files are skipped."""
    rows = []
    for run in runs:
        fraction = _fraction(run)
        for name in eval_sets:
            path = run.path / "eval" / f"{name}.json"
            if not path.exists():
                continue
            for metric, value in flatten_scores(json.loads(path.read_text(encoding="utf-8"))).items():
                rows.append([run.seed, run.name, run.experiment, run.selection, fraction, name, metric, value])
    frame = pd.DataFrame(rows, columns=COLUMNS)
    return frame.astype({"seed": "int64", "fraction": "float64", "value": "float64"})


def chance_runs(runs, eval_sets: list[str]) -> dict[str, list[str]]:
    """``{run name: ["seed S on SET", ...]}`` for every evaluation at or near chance
    (:func:`datamap.core.health.check_chance` on the set's own class supports)."""
    from datamap.core.health import check_chance

    found: dict[str, list[str]] = {}
    for run in runs:
        for name in eval_sets:
            path = run.path / "eval" / f"{name}.json"
            if not path.exists():
                continue
            scores = json.loads(path.read_text(encoding="utf-8"))
            support = [int(v.get("support", 0)) for v in (scores.get("per_class") or {}).values()]
            if "accuracy" not in scores or sum(support) == 0:
                continue
            if not check_chance(float(scores["accuracy"]), support, what=name).ok:
                found.setdefault(run.name, []).append(f"seed {run.seed} on {name}")
    return found


def chance_note(chance: dict[str, list[str]]) -> str:
    """The warning line of summary.md and experiment.html ('' when every run learnt something)."""
    if not chance:
        return ""
    parts = "; ".join(f"{run} ({', '.join(where)})" for run, where in chance.items())
    return (f"⚠ At or near chance (accuracy below the majority-class share + 0.05): {parts}. These runs learnt "
            "nothing measurable; their differences mean nothing.\n")


def summarize(results: pd.DataFrame) -> pd.DataFrame:
    """Mean, sample std (ddof 1; NaN for one seed) and n of ``value`` per run x eval_set x metric (first-seen order)."""
    keys = ["run", "experiment", "eval_set", "metric"]
    grouped = results.groupby(keys, sort=False, dropna=False)
    out = grouped.agg(fraction=("fraction", "mean"), mean=("value", "mean"), std=("value", "std"),
                      n=("value", "size")).reset_index()
    return out.astype({"n": "int64"})


def summary_markdown(summary: pd.DataFrame, metrics: list[str], chance: dict[str, list[str]] | None = None) -> str:
    """A Markdown table: one row per run, one column per set x metric, ``mean ± std (n)``; a run with an
    evaluation at chance (``chance``, from :func:`chance_runs`) is marked ``⚠ at chance``."""
    chance = chance or {}
    part = summary[summary["metric"].isin(metrics)]
    cols = list(dict.fromkeys(zip(part["eval_set"], part["metric"])))
    sets = list(dict.fromkeys(part["eval_set"]))
    cols.sort(key=lambda c: (sets.index(c[0]), metrics.index(c[1])))  # each set's metrics in the order asked
    lines = ["| run | fraction | " + " | ".join(f"{s} {m}" for s, m in cols) + " |",
             "| --- | ---: | " + " | ".join("---:" for _ in cols) + " |"]
    for run, rows in part.groupby("run", sort=False):
        cells = []
        for s, m in cols:
            hit = rows[(rows["eval_set"] == s) & (rows["metric"] == m)]
            cells.append("-" if hit.empty else _cell(hit.iloc[0]))
        mark = " ⚠ at chance" if run in chance else ""
        lines.append(f"| {run}{mark} | {rows['fraction'].iloc[0]:.3f} | " + " | ".join(cells) + " |")
    note = chance_note(chance)
    return "\n".join(lines) + "\n" + (f"\n{note}" if note else "")


def _cell(row) -> str:
    if row["n"] < 2 or np.isnan(row["std"]):
        return f"{row['mean']:.4f} (n={row['n']})"
    return f"{row['mean']:.4f} ± {row['std']:.4f} (n={row['n']})"


# ------------------------------------------------------------------ plots


def _png(fig) -> bytes:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return buf.getvalue()


def plot_fractions(summary: pd.DataFrame, eval_set: str, metric: str) -> bytes:
    """Score against data fraction: one line per experiment with error bars (std over seeds); full-data runs dashed."""
    return _png(fractions_figure(summary, eval_set, metric))


def fractions_figure(summary: pd.DataFrame, eval_set: str, metric: str):
    """The figure of :func:`plot_fractions`. Every experiment has its own colour; a full-data run is a dashed line
    with a band of ± one std over seeds (several of them would otherwise be the same dashed line)."""
    from matplotlib.figure import Figure

    part = summary[(summary["eval_set"] == eval_set) & (summary["metric"] == metric)]
    fig = Figure(figsize=(6.5, 4))
    ax = fig.subplots()
    for i, (exp, rows) in enumerate(part.groupby("experiment", sort=False)):
        rows = rows.sort_values("fraction")
        err = rows["std"].fillna(0).to_numpy()
        color = f"C{i % 10}"
        if len(rows) == 1 and rows["fraction"].iloc[0] == 1.0:
            mean = rows["mean"].iloc[0]
            ax.axhline(mean, linestyle="--", linewidth=1, color=color, label=f"{exp} (all data)")
            if err[0] > 0:
                ax.axhspan(mean - err[0], mean + err[0], color=color, alpha=0.1, linewidth=0)
            continue
        ax.errorbar(rows["fraction"], rows["mean"], yerr=err, marker="o", capsize=3, color=color, label=str(exp))
    ax.set_xlabel("fraction of the training data")
    ax.set_ylabel(metric)
    ax.set_title(f"{eval_set}: {metric} (mean ± std over seeds)")
    ax.legend(fontsize=8)
    return fig


def plot_epochs(runs) -> bytes | None:
    """Per-epoch curves (mean over seeds) of every run with a history.json: the training loss, and the
    accuracy on the runs' in-training evaluation set when they have one (``train.eval_split``)."""
    from matplotlib.figure import Figure

    curves: dict[str, dict[str, list[list[float]]]] = {}
    for run in runs:
        path = run.path / "history.json"
        if not path.exists():
            continue
        epochs = json.loads(path.read_text(encoding="utf-8")).get("epochs", [])
        per = curves.setdefault(run.name, {})
        per.setdefault("training loss", []).append([e.get("train_loss", np.nan) for e in epochs])
        for e_i, e in enumerate(epochs):
            for s, scores in (e.get("eval") or {}).items():
                series = per.setdefault(f"{s} accuracy", [])
                if len(series) < len(per["training loss"]):
                    series.append([np.nan] * len(epochs))
                series[-1][e_i] = scores.get("accuracy", np.nan)
    if not curves:
        return None
    panels = list(dict.fromkeys(k for per in curves.values() for k in per))
    fig = Figure(figsize=(6.5 * len(panels), 4))
    axes = np.atleast_1d(fig.subplots(1, len(panels)))
    for ax, panel in zip(axes, panels):
        for name, per in curves.items():
            if panel not in per:
                continue
            width = min(len(x) for x in per[panel])
            mean = np.nanmean(np.array([x[:width] for x in per[panel]], dtype=float), axis=0)
            ax.plot(np.arange(1, width + 1), mean, marker="o", label=name)
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_ylabel(panel)
        ax.set_title(f"{panel} per epoch (mean over seeds)")
        ax.legend(fontsize=7)
    return _png(fig)


# ------------------------------------------------------------------ writing


def write_results(plan, command: str = "") -> dict:
    """Write the results table, the summary, the plots and ``experiment.html`` of a finished plan; returns the paths."""
    cfg, out = plan.config, plan.out
    sets = [e.name for e in cfg.evaluation]
    results = collect(plan.runs, sets)
    summary = summarize(results)
    paths = {"results": atomic.write_table(out / "results.parquet", results),
             "csv": atomic.write_text(out / "results.csv", results.to_csv(index=False)),
             "summary": atomic.write_text(out / "summary.csv", summary.to_csv(index=False))}
    chance = chance_runs(plan.runs, sets)
    md = summary_markdown(summary, cfg.summary_metrics, chance) if len(summary) else "(no evaluation sets)\n"
    paths["summary_md"] = atomic.write_text(out / "summary.md", md)
    images: list[tuple[str, str, bytes]] = []  # (file, title, png)
    for s in sets:
        for m in cfg.summary_metrics:
            if ((summary["eval_set"] == s) & (summary["metric"] == m)).any():
                images.append((f"fraction_{s}_{m}.png", f"{s}: {m} against the data fraction", plot_fractions(summary, s, m)))
    epochs = plot_epochs(plan.runs)
    if epochs is not None:
        images.append(("epochs.png", "training loss per epoch", epochs))
    carto = out / f"seed{cfg.seeds[0]}" / "cartography" / "map.png"
    if carto.exists():
        images.append(("map.png", f"data map of the cartography run (seed {cfg.seeds[0]})", carto.read_bytes()))
    for name, _, png in images:
        atomic.write_bytes(out / "plots" / name, png)
    paths["html"] = atomic.write_text(out / "experiment.html", experiment_html(plan, md, images, command, chance))
    return {**paths, "summary_table": md, "chance": chance}


def experiment_html(plan, summary_md: str, images, command: str, chance: dict[str, list[str]] | None = None) -> str:
    """The self-contained report page (images inlined as base64; every text escaped)."""
    import base64

    import yaml

    esc = html.escape
    cfg = plan.config
    title = cfg.name or plan.out.name
    rows = [line.strip("|").split("|") for line in summary_md.strip().splitlines() if line.startswith("|")]
    table = ""
    if len(rows) > 2:
        head = "".join(f"<th>{esc(c.strip())}</th>" for c in rows[0])
        body = "".join("<tr>" + "".join(f"<td>{esc(c.strip())}</td>" for c in r) + "</tr>" for r in rows[2:])
        table = f'<table id="summary"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
    figs = "".join(
        f'<figure><img alt="{esc(t)}" src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">'
        f"<figcaption>{esc(t)}</figcaption></figure>" for _, t, png in images)
    links = "".join(
        f'<li><a href="{esc(f"seed{s}/cartography/map.html", quote=True)}">seed {s}: interactive data map</a></li>'
        for s in cfg.seeds if (plan.out / f"seed{s}" / "cartography" / "map.html").exists())
    config = yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}: experiment</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}
td:first-child,th:first-child{{text-align:left}}img{{max-width:100%}}pre{{background:#f6f6f6;padding:1em;overflow:auto}}</style>
</head><body>
<h1>{esc(title)}</h1>
<p>{len(cfg.seeds)} seed(s): {esc(", ".join(map(str, cfg.seeds)))}; {len(plan.runs) // max(len(cfg.seeds), 1)} runs per seed.</p>
{f"<p>Command: <code>{esc(command)}</code></p>" if command else ""}
<h2>Summary (mean ± std over seeds)</h2>
{f'<p class="warn" id="chance"><b>{esc(chance_note(chance or {}))}</b></p>' if chance else ""}
{table or "<p>No evaluation sets.</p>"}
<h2>Plots</h2>
{figs}
<ul>{links}</ul>
<h2>Resolved configuration</h2>
<pre>{esc(config)}</pre>
</body></html>
"""
