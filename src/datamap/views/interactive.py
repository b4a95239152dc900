"""Interactive data map: one self-contained HTML file (no CDN, opens offline).

The page draws variability (x) against confidence (y) for every example with WebGL (a 2-D canvas
fallback when WebGL is unavailable), with marginal histograms, tooltips showing the record and its
metrics, a search box, filters by region and gold label, colour by correctness / region / label /
any metric, and box or lasso selection exported as a selection JSON that ``datamap train --subset``
reads. The JavaScript and CSS live in ``views/assets/`` and are inlined.

With ``xy="embedding"`` the page draws a 2-D projection of ``RUN/embeddings.parquet`` (PCA; UMAP
when ``umap-learn`` is installed) instead, with the same tooltips, filters and selection export,
and colours by cluster when a clusters file is there (``RUN/clusters.parquet``).

The map zooms and pans (wheel, drag in pan mode, buttons, double-click resets), its axes fit the
data (a toggle shows the full 0-1 range), correctness is drawn with one colour per value k/E, an
optional hexbin density layer shows crowded regions, the region boundaries are drawn, and the
tooltip and the pinned record show a small chart of the example's gold-class probability per
epoch (from ``RUN/dynamics.parquet``, stored in the page as one byte per example and epoch); after
``datamap metrics --burn-out K`` the epochs past K, which the metrics leave out, are greyed.

When ``RUN/label_issues.parquet`` exists (``datamap errors``), its ranking is joined by id: the
tooltip and the pinned record give each example's rank and flag, a colouring shows flagged /
not flagged / unranked, a "top K" box and a "flagged only" box filter the points (with the other
filters), and a list of the top 20 issues pins a point on click. The page holds it as one int32
(rank, 0 = unranked) and one byte (flag) per point.

All record text travels as JSON inside a ``<script type="application/json">`` block with ``<``,
``>`` and ``&`` escaped, and the page only ever puts it into the document with ``textContent``, so
text such as ``<script>`` shows literally and runs nothing.
"""

from __future__ import annotations

import base64
import html
import json
import os
from pathlib import Path

import numpy as np

from datamap.core.metrics import METRIC_COLUMNS
from datamap.core.sampling import sample_positions
from datamap.errors import DatamapError
from datamap.io.atomic import refuse_existing, write_text
from datamap.io.readers import read_parquet
from datamap.io.rundir import RunDir
from datamap.views.static import correctness_epochs, epochs_used, region_rgb

ASSETS = Path(__file__).parent / "assets"

#: metrics.parquet columns the map needs; the other metric columns are shown when present.
REQUIRED_METRICS = ("id", "gold", "pred", "confidence", "variability", "correctness", "region")
OPTIONAL_METRICS = tuple(c for c in METRIC_COLUMNS if c not in REQUIRED_METRICS)
REGION_ORDER = ("easy", "ambiguous", "hard", "none")
COLOR_CHOICES = ("correctness", "region", "gold", "pred")
XY_CHOICES = ("map", "embedding")
LABEL_ISSUE = "label_issue"  # the colouring offered when RUN/label_issues.parquet exists
N_TOP_ISSUES = 20  # entries of the page's "Top label issues" list


def load_run_table(run_dir: str | os.PathLike):
    """Read a run's metrics joined to its records by ``id``.

    Parameters
    ----------
    run_dir : path
        The run directory (see docs/run-directory.md). ``metrics.parquet`` and ``data.parquet``
        must exist; ``labels.json`` is used for class names when present.

    Returns
    -------
    (pandas.DataFrame, list[str])
        One row per metrics row (in metrics order) with the metric columns plus ``text`` and,
        for pair tasks, ``text_pair``; and the class names in id order.
    """
    import pyarrow.parquet as pq

    rd = RunDir(run_dir)
    if not rd.root.is_dir():
        raise DatamapError(f"{rd.root}: run directory not found")
    if not rd.metrics.exists():
        raise DatamapError(f"{rd.metrics}: not found; run `datamap metrics {rd.root}` first")
    if not rd.data.exists():
        raise DatamapError(
            f"{rd.data}: not found; run `datamap train` or `datamap import-dynamics` into {rd.root} first"
        )
    rd.require_complete(metrics=True)  # an interrupted train or metrics is refused
    metrics = read_parquet(rd.metrics)
    missing = [c for c in REQUIRED_METRICS if c not in metrics.columns]
    if missing:
        raise DatamapError(f"{rd.metrics}: missing column '{missing[0]}'; rerun `datamap metrics {rd.root}`")
    try:
        schema = pq.read_schema(rd.data)
    except Exception as exc:  # truncated or not Parquet
        raise DatamapError(f"{rd.data}: cannot read as Parquet ({str(exc).splitlines()[0]})") from exc
    data_cols = [c for c in schema.names if c in ("id", "text", "text_pair", "label_name")]
    for col in ("id", "text"):
        if col not in data_cols:
            raise DatamapError(f"{rd.data}: missing column '{col}'")
    data = read_parquet(rd.data, columns=data_cols)

    metrics["id"] = metrics["id"].astype(str)
    data["id"] = data["id"].astype(str)
    for name, frame, path in (("metrics", metrics, rd.metrics), ("data", data, rd.data)):
        dup = frame["id"].duplicated()
        if dup.any():
            raise DatamapError(f"{path}: id '{frame['id'][dup].iloc[0]}' occurs more than once")
    table = metrics.merge(data, on="id", how="left", sort=False, indicator=True)
    lost = table["_merge"] != "both"
    if lost.any():
        raise DatamapError(
            f"{rd.data}: has no record for id '{table['id'][lost].iloc[0]}' of metrics.parquet "
            f"({int(lost.sum())} ids missing)"
        )
    table = table.drop(columns="_merge")
    table["text"] = table["text"].fillna("").astype(str)
    if "text_pair" in table.columns:
        table["text_pair"] = table["text_pair"].fillna("").astype(str)

    n_classes = int(max(table["gold"].max(), table["pred"].max())) + 1 if len(table) else 0
    if rd.labels.exists():
        names = rd.label_names()
    elif "label_name" in data.columns:
        pairs = dict(zip(table["gold"].astype(int), table["label_name"].astype(str)))
        names = [pairs.get(i, str(i)) for i in range(n_classes)]
    else:
        names = [str(i) for i in range(n_classes)]
    if len(names) < n_classes:
        raise DatamapError(f"{rd.labels}: names {len(names)} classes but metrics use class {n_classes - 1}")
    return table, list(names)


def _b64(values: np.ndarray, dtype) -> str:
    return base64.b64encode(np.ascontiguousarray(values, dtype=dtype).tobytes()).decode("ascii")


def script_json(obj) -> str:
    """JSON safe to place inside an HTML ``<script>`` element (``<``, ``>``, ``&`` escaped)."""
    text = json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text


def gold_probabilities(rd: RunDir, ids) -> tuple[np.ndarray | None, str]:
    """Gold-class probability per epoch of each id (rows in ``ids`` order, epochs in file order)
    from the run's dynamics, and a note for the page; ``(None, why)`` when the run has none."""
    from datamap.core.probs import log_softmax
    from datamap.io.embeddings import positions_by_id
    from datamap.io.store import read_dynamics

    source = rd.dynamics_source()
    if not source.exists():
        return None, f"no {source.name} in the run: no per-epoch chart"
    dyn = read_dynamics(source)
    pos = positions_by_id(dyn.ids, ids, source, "dynamics")
    out = np.empty((len(pos), dyn.n_epochs), dtype=np.float32)
    step = 1 << 16  # bounded temporaries (float64 log-softmax of a block)
    for a in range(0, len(pos), step):
        rows = pos[a:a + step]
        logp = log_softmax(dyn.logits[rows], axis=-1)
        g = dyn.gold[rows]
        out[a:a + step] = np.exp(logp[np.arange(len(rows)), :, g])
    return out, f"per-epoch chart from {source.name} ({dyn.n_epochs} epochs)"


def quantise_unit(p: np.ndarray) -> np.ndarray:
    """Probabilities in [0, 1] as bytes ``round(255 p)`` (error at most 1/510)."""
    return np.round(np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0) * 255).astype(np.uint8)


def join_label_issues(rd: RunDir, table):
    """``table`` with ``_issue_rank`` (int, 0 = unranked), ``_issue_flag`` (bool) and ``_issue_row`` (row
    of the file) joined by id from ``RUN/label_issues.parquet``, and the page's description of the file
    (method, cut, counts, its given and predicted labels); ``(table, None)`` without the file.

    Every id of ``table`` must be in the file (ids it has beyond them are ignored), once.
    """
    from datamap.io.embeddings import positions_by_id

    path = rd.label_issues
    if not path.exists():
        return table, None
    hint = f"rerun `datamap errors {rd.root} --overwrite`"
    try:
        issues, meta = rd.read_label_issues(["id", "rank", "flag", "given_label", "predicted_label"])
        ids, ranks = issues["id"].astype(str), issues["rank"].astype("Int64")
        pos = positions_by_id(ids, table["id"], path, "label issue")
    except (ValueError, TypeError) as exc:  # DatamapError included: each names the file
        msg = str(exc) if str(exc).startswith(str(path)) else f"{path}: {exc}"
        raise DatamapError(f"{msg}; {hint}") from exc
    table = table.copy()
    table["_issue_rank"] = ranks.fillna(0).to_numpy(np.int64)[pos]
    table["_issue_flag"] = issues["flag"].fillna(False).to_numpy(bool)[pos]
    table["_issue_row"] = pos
    cut_value = meta.get("cut_value")
    info = {
        "method": str(meta.get("method", "?")),
        "cut": str(meta.get("cut", "?")),
        "cut_value": float(cut_value) if isinstance(cut_value, (int, float)) and np.isfinite(cut_value) else None,
        "n_ranked": int(ranks.notna().sum()),
        "n_flagged": int(issues["flag"].fillna(False).sum()),
        "labels": issues[["given_label", "predicted_label"]],
    }
    return table, info


def _issues_payload(table, info: dict) -> dict:
    """The page's label-issue block: rank (int32, 0 = unranked) and flag (u1) per drawn point, the
    file's method and cut, and the top drawn issues by rank as [row, given label, predicted label]."""
    rank = table["_issue_rank"].to_numpy(np.int64)
    ranked = np.flatnonzero(rank > 0)
    top = ranked[np.argsort(rank[ranked], kind="stable")[:N_TOP_ISSUES]]
    labels = info["labels"].iloc[table["_issue_row"].to_numpy()[top]].astype(str).to_numpy()
    return {
        **{k: v for k, v in info.items() if k != "labels"},
        "rank": _b64(rank, "<i4"),
        "flag": _b64(table["_issue_flag"].to_numpy(bool), "u1"),
        "top": [[int(i), str(g), str(q)] for i, (g, q) in zip(top, labels)],
    }


def _payload(table, names: list[str], run_name: str, n_total: int, sample_note: dict, color_by: str,
             optional: tuple = OPTIONAL_METRICS) -> dict:
    regions = list(REGION_ORDER)
    extra = sorted(set(table["region"].astype(str)) - set(regions))
    regions += extra
    code = {r: i for i, r in enumerate(regions)}
    metric_cols = ["variability", "confidence", "correctness"] + [c for c in optional if c in table.columns]
    pair = "text_pair" in table.columns
    return {
        "run": run_name,
        "n_total": int(n_total),
        **sample_note,
        "color_by": color_by,
        "label_names": names,
        "regions": regions,
        "region_rgb": region_rgb(),
        "pair": pair,
        "ids": table["id"].tolist(),
        "text": table["text"].tolist(),
        "text_pair": table["text_pair"].tolist() if pair else None,
        "gold": _b64(table["gold"].to_numpy(np.int64), "<i4"),
        "pred": _b64(table["pred"].to_numpy(np.int64), "<i4"),
        "region": _b64(table["region"].astype(str).map(code).to_numpy(np.int64), "u1"),
        "metrics": metric_cols,
        "cols": {c: _b64(table[c].to_numpy(np.float64), "<f4") for c in metric_cols},
    }


def write_html_map(
    run_dir: str | os.PathLike,
    out: str | os.PathLike | None = None,
    color_by: str | None = None,
    max_points: int | None = None,
    seed: int = 0,
    xy: str = "map",
    embeddings: str | os.PathLike | None = None,
    clusters: str | os.PathLike | None = None,
    projection: str = "pca",
    overwrite: bool = False,
) -> Path:
    """Write the interactive data map of a run as one self-contained HTML file.

    Parameters
    ----------
    run_dir : path
        Run directory holding ``metrics.parquet`` and ``data.parquet`` (joined by ``id``). When it
        holds ``label_issues.parquet`` (``datamap errors``), the page shows that ranking too; the
        file must then hold every id of the metrics.
    out : path, optional
        Output file. Default: ``RUN/map.html`` (``RUN/map_embedding.html`` for ``xy="embedding"``).
    color_by : str or None, default None
        Initial colouring: ``"correctness"``, ``"region"``, ``"gold"``, ``"pred"``, ``"cluster"``
        (with clusters), ``"label_issue"`` (with ``RUN/label_issues.parquet``) or any metric column
        (``"confidence"``, ``"aum"``, ...). The page can switch it. Default: ``"correctness"``; on
        the embedding view ``"cluster"`` when there are clusters, else ``"region"``.
    max_points : int, optional
        Draw a random sample of at most this many points. Default: None, every point is drawn
        (nothing is ever sampled silently; a sample is stated on the page).
    seed : int, default 0
        Seed of the sample when ``max_points`` applies (and of a UMAP projection).
    xy : str, default "map"
        ``"map"``: variability (x) against confidence (y). ``"embedding"``: a 2-D projection of
        the examples' embeddings.
    embeddings : path, optional
        Embeddings file of the embedding view (default ``RUN/embeddings.parquet``); it must hold
        every id of the metrics.
    clusters : path, optional
        Clusters file to colour by (default ``RUN/clusters.parquet`` when it exists).
    projection : str, default "pca"
        ``"pca"`` or ``"umap"`` (only when ``umap-learn`` is installed).
    overwrite : bool, default False
        Replace an existing output file; without it the file is refused before any work (a
        folder is always refused).

    Returns
    -------
    pathlib.Path
        The written file.
    """
    rd = RunDir(run_dir)
    if xy not in XY_CHOICES:
        raise DatamapError(f"--xy {xy!r}: choose one of {', '.join(XY_CHOICES)}")
    if max_points is not None and (isinstance(max_points, bool) or int(max_points) < 1):
        raise DatamapError(f"--max-points must be an integer >= 1, got {max_points!r}")
    from datamap.views import sft_map
    from datamap.views.static import metrics_kind

    sft = metrics_kind(rd) == "sft"
    optional = sft_map.OPTIONAL if sft else OPTIONAL_METRICS
    color_choices = ("correctness", "region") if sft else COLOR_CHOICES
    metric_names = {"variability", "confidence", *optional}
    if color_by is not None and color_by not in color_choices + ("cluster", LABEL_ISSUE) and color_by not in metric_names:
        raise DatamapError(f"--color-by '{color_by}': choose one of "
                           f"{', '.join(color_choices + ('cluster', LABEL_ISSUE) + tuple(sorted(metric_names)))}")
    if color_by == LABEL_ISSUE and not rd.label_issues.exists():
        raise DatamapError(f"--color-by {LABEL_ISSUE}: {rd.label_issues} not found; run `datamap errors {rd.root}` first")
    target = Path(out) if out is not None else (rd.map_embedding_html if xy == "embedding" else rd.map_html)
    refuse_existing(target, overwrite, "--out" if out is not None else "")
    table, names = sft_map.sft_run_table(rd) if sft else load_run_table(rd.root)
    view: dict = {}
    if xy == "embedding":
        table, view = embedding_view(rd, table, embeddings, clusters, projection, seed)
    elif embeddings is not None or clusters is not None:
        raise DatamapError("--embeddings and --clusters only apply to the embedding view (--xy embedding)")
    table, issues = join_label_issues(rd, table)
    choices = color_choices + (("cluster",) if "_cluster" in table.columns else ()) + ((LABEL_ISSUE,) if issues else ())
    if color_by is None:
        color_by = "correctness" if xy == "map" else ("cluster" if "_cluster" in table.columns else "region")
    if color_by not in choices and color_by not in metric_names:
        raise DatamapError(f"--color-by '{color_by}': choose one of {', '.join(choices + tuple(sorted(metric_names)))}")
    if color_by in optional and color_by not in table.columns:
        raise DatamapError(f"--color-by '{color_by}': column missing from {rd.metrics}")
    n_total = len(table)
    note = {"sampled": False}
    keep = sample_positions(n_total, max_points, seed=seed)
    if keep is not None:
        table = table.iloc[keep].reset_index(drop=True)
        note = {"sampled": True, "seed": int(seed), "max_points": int(max_points)}
    if note["sampled"]:
        banner = (
            f"Random sample: {len(table):,} of {n_total:,} points are drawn (max_points={int(max_points)}, "
            f"seed={int(seed)}); searches, filters and exported selections cover the drawn points only."
        )
    else:
        banner = f"All {n_total:,} points are drawn (no sampling)."

    payload = _payload(table, names, rd.root.resolve().name, n_total, note, color_by, optional)
    if sft:  # token accuracy is continuous (no k/E levels); the chart is per record point
        used = sft_map.points_used(rd)
        payload["correct_epochs"] = None
        payload["sft"] = sft_map.PAGE_TEXT
    else:
        used = epochs_used(rd)
        payload["correct_epochs"] = correctness_epochs(table["correctness"].to_numpy(), used)
    payload["epochs_used"] = used  # < epochs after `datamap metrics --burn-out`: the chart greys the rest
    pgold, payload["pgold_note"] = (sft_map.token_probabilities if sft else gold_probabilities)(rd, table["id"])
    if pgold is not None:
        payload["epochs"] = int(pgold.shape[1])
        payload["pgold"] = _b64(quantise_unit(pgold), "u1")  # row-major: example, then epoch
    if issues:
        payload["issues"] = _issues_payload(table, issues)
    if view:
        payload.update(_view_payload(table, view))
        banner += " " + view["note"]
    css = (ASSETS / "map.css").read_text(encoding="utf-8")
    js = (ASSETS / "map.js").read_text(encoding="utf-8")
    title = f"datamap: {rd.root.resolve().name}" + (" (embeddings)" if view else "")
    page = _PAGE.format(
        title=html.escape(title),
        css=css,
        banner=html.escape(banner),
        sampled="yes" if note["sampled"] else "no",
        about=about_html(rd),
        data=script_json(payload),
        js=js,
    )
    return write_text(target, page)


def about_html(rd: RunDir) -> str:
    """The run's description, health warnings and what the regions are, as escaped HTML for the page's head."""
    from datamap.views.findings import describe_run, regions_note, run_findings, warnings_of

    desc = describe_run(rd)
    warn = warnings_of(run_findings(rd))
    parts = [f"<p id='dm-run'>Run: {html.escape(desc)}</p>"] if desc else []
    if warn:
        items = "".join(f"<li>⚠ <b>{html.escape(f.check)}</b>: {html.escape(f.message)}</li>" for f in warn)
        parts.append(f"<div id='dm-health' class='warn'><b>Read before the map: {len(warn)} health "
                     f"check{'s' if len(warn) != 1 else ''} warn.</b><ul>{items}</ul></div>")
    parts.append(f"<p id='dm-regions' class='note'>{html.escape(regions_note(rd))}</p>")
    return "\n".join(parts)


def embedding_view(rd: RunDir, table, embeddings, clusters, projection: str, seed: int):
    """``table`` with the 2-D projection (``_x``, ``_y``) and cluster labels (``_cluster``) joined by
    id, and a description of the view (axis labels, files)."""
    from datamap.io.embeddings import positions_by_id, read_clusters, read_embeddings
    from datamap.views.projection import project_2d

    path = Path(embeddings) if embeddings is not None else rd.embeddings
    if not path.exists():
        raise DatamapError(f"{path}: not found; run `datamap embed {rd.root}` first (or pass --embeddings FILE)")
    emb = read_embeddings(path)
    vectors = emb.vectors[positions_by_id(emb.keys, table["id"], path, "embedding")]
    coords, (xlabel, ylabel) = project_2d(vectors, projection, seed)
    table = table.copy()
    table["_x"], table["_y"] = coords[:, 0], coords[:, 1]
    pooling = emb.metadata.get("pooling", "?")
    note = f"Axes: {projection.upper()} of {path.name} ({pooling} pooling, {vectors.shape[1]} dimensions)"
    cpath = Path(clusters) if clusters is not None else (rd.clusters if rd.clusters.exists() else None)
    if cpath is not None:
        frame, meta = read_clusters(cpath)
        table["_cluster"] = frame["cluster"].to_numpy()[positions_by_id(frame["id"], table["id"], cpath, "cluster")]
        note += f"; clusters from {cpath.name} ({meta.get('method', '?')})"
    return table, {"x": xlabel, "y": ylabel, "projection": projection, "note": note + "."}


def _view_payload(table, view: dict) -> dict:
    out = {
        "xy": {"kind": "embedding", "x": view["x"], "y": view["y"], "projection": view["projection"]},
        "x": _b64(table["_x"].to_numpy(), "<f4"),
        "y": _b64(table["_y"].to_numpy(), "<f4"),
    }
    if "_cluster" in table.columns:
        labels = table["_cluster"].to_numpy(np.int64)
        uniq = np.unique(labels)  # ascending: noise (-1) first when present
        out["cluster"] = _b64(np.searchsorted(uniq, labels), "<i4")
        out["cluster_names"] = ["noise" if c == -1 else str(int(c)) for c in uniq]
    return out


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
{css}
</style>
</head>
<body>
<h1>{title}</h1>
<p id="dm-note" data-sampled="{sampled}">{banner}</p>
{about}
<div id="dm-controls">
  <label>Colour by <select id="dm-color"></select></label>
  <label>Search <input id="dm-search" type="search" placeholder="substring in text (any case)" size="28"></label>
  <label>Drag <select id="dm-mode"><option value="box">box select</option><option value="lasso">lasso select</option><option value="pan">pan</option></select></label>
  <button id="dm-clear" type="button">Clear selection</button>
  <label>Name <input id="dm-name" type="text" value="map_selection" size="16"></label>
  <button id="dm-export" type="button" disabled>Export selected ids (JSON)</button>
  <span id="dm-count"></span>
</div>
<div id="dm-view">
  <b>View</b>
  <button id="dm-zoom-in" type="button" title="zoom in (or the mouse wheel)">+</button>
  <button id="dm-zoom-out" type="button" title="zoom out">&minus;</button>
  <button id="dm-left" type="button" title="pan left">&larr;</button>
  <button id="dm-right" type="button" title="pan right">&rarr;</button>
  <button id="dm-up" type="button" title="pan up">&uarr;</button>
  <button id="dm-down" type="button" title="pan down">&darr;</button>
  <button id="dm-reset" type="button" title="reset the view (or double-click the map)">Reset</button>
  <label><input id="dm-full" type="checkbox"> full 0&ndash;1 axes</label>
  <label><input id="dm-bounds" type="checkbox" checked> region boundaries</label>
  <label><input id="dm-density-on" type="checkbox"> density (hexbin)</label>
  <span id="dm-density-legend" class="dm-k"></span>
</div>
<div id="dm-filters">
  <div><b>Regions</b> <span id="dm-regions"></span></div>
  <div><b>Gold labels</b> <span id="dm-labels"></span></div>
</div>
<div id="dm-main">
  <div id="dm-grid">
    <canvas id="dm-histx"></canvas><div></div>
    <div id="dm-plot"><canvas id="dm-gl"></canvas><canvas id="dm-density"></canvas><canvas id="dm-overlay"></canvas></div>
    <canvas id="dm-histy"></canvas>
  </div>
  <div id="dm-side">
    <div id="dm-legend"></div>
    <div id="dm-detail"><p class="dm-hint">Hover a point to read it; click it to pin the full record here.
    Drag on the map to select (shift adds to the selection) or, in pan mode, to move the view; the wheel
    zooms, a double-click resets the view.</p></div>
  </div>
</div>
<div id="dm-tooltip" hidden></div>
<script type="application/json" id="dm-data">{data}</script>
<script>
{js}
</script>
</body>
</html>
"""
