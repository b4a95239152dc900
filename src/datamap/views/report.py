"""The run report: one self-contained HTML page (images inlined as base64, readable offline).

Sections: data maps, region summary (counts per region and class, the 20 most likely mislabeled
examples with their text), per-epoch training curves, evaluation tables of the run, its selections
and the runs retrained on them. Every piece of text from the run is HTML-escaped.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
from pathlib import Path

import numpy as np

from datamap.errors import DatamapError
from datamap.io.atomic import refuse_existing, write_text
from datamap.io.readers import read_scores
from datamap.io.rundir import RunDir
from datamap.views.interactive import REGION_ORDER, load_run_table

N_MISLABELED = 20
MISLABELED_RULE = (
    "Most likely mislabeled = the hard-to-learn examples (region 'hard') with the lowest confidence; "
    "ties are broken by the lowest correctness, then by id."
)
EVAL_KEYS = ("n", "accuracy", "precision_macro", "recall_macro", "f1_macro", "ece")

esc = html.escape


def most_likely_mislabeled(table, k: int = N_MISLABELED):
    """The ``k`` hard-to-learn rows of lowest confidence (ties: lowest correctness, then id)."""
    hard = table[table["region"].astype(str) == "hard"]
    return hard.sort_values(["confidence", "correctness", "id"], kind="stable").head(k)


def _num(v) -> str:
    if isinstance(v, (bool, np.bool_)):
        return str(v)
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}"
    if isinstance(v, (float, np.floating)):
        v = float(v)
        if np.isinf(v):
            return "∞" if v > 0 else "-∞"
        if np.isnan(v):
            return "–"
        return f"{v:.4f}" if abs(v) < 1000 else f"{v:,.1f}"
    if v is None:
        return "–"
    return esc(str(v))


def _table(header: list[str], rows: list[list], cls: str = "") -> str:
    head = "".join(f"<th>{esc(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{esc(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">'


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return buf.getvalue()


def _draw_map(table) -> bytes:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 5.5))
    ax = fig.add_subplot()
    colours = {"easy": "#1a9850", "ambiguous": "#fd8d3c", "hard": "#d7301f", "none": "#969696"}
    size = 2 if len(table) > 50_000 else 6
    for reg in REGION_ORDER:
        part = table[table["region"] == reg]
        if len(part):
            ax.scatter(part["variability"], part["confidence"], s=size, c=colours[reg], label=f"{reg} ({len(part):,})",
                       alpha=0.6, linewidths=0, rasterized=True)
    ax.set_xlabel("variability")
    ax.set_ylabel("confidence")
    ax.legend(loc="lower right", markerscale=3, fontsize=8)
    ax.set_title(f"data map, {len(table):,} examples, by region")
    return _png(fig)


def _maps(rd: RunDir, table) -> str:
    out = ["<h2 id='maps'>Data maps</h2>"]
    if rd.map_png.exists():
        out.append(_img(rd.map_png.read_bytes(), "data map (map.png)"))
        out.append("<p class='note'>map.png of the run.</p>")
    else:
        out.append(_img(_draw_map(table), "data map by region"))
        out.append("<p class='note'>No map.png in the run (run <code>datamap plot RUN</code>): this map "
                   "was drawn for the report, every example, coloured by region.</p>")
    if rd.map_html.exists():
        out.append("<p>Interactive map: <a href='map.html'>map.html</a> (same folder).</p>")
    return "\n".join(out)


def _regions(table, names: list[str]) -> str:
    regions = list(REGION_ORDER) + sorted(set(table["region"].astype(str)) - set(REGION_ORDER))
    counts = table.groupby([table["region"].astype(str), table["gold"].astype(int)]).size()
    rows = []
    for reg in regions:
        per = [int(counts.get((reg, c), 0)) for c in range(len(names))]
        rows.append([f"<b>{esc(reg)}</b>", *(_num(v) for v in per), _num(sum(per)),
                     f"{100 * sum(per) / max(len(table), 1):.1f}%"])
    tot = [int((table["gold"] == c).sum()) for c in range(len(names))]
    rows.append(["<b>all</b>", *(_num(v) for v in tot), _num(len(table)), "100.0%"])
    out = ["<h2 id='regions'>Region summary</h2>",
           "<p>Examples per region (rows) and gold class (columns).</p>",
           _table(["region", *names, "total", "share"], rows, "num")]

    worst = most_likely_mislabeled(table)
    out.append(f"<h3 id='mislabeled'>The {N_MISLABELED} most likely mislabeled examples</h3>")
    out.append(f"<p class='rule'>{esc(MISLABELED_RULE)} {len(worst)} shown.</p>")
    pair = "text_pair" in table.columns
    rows = []
    for rank, (_, r) in enumerate(worst.iterrows(), 1):
        text = f"<div>{esc(r['text'])}</div>"
        if pair:
            text = f"<div><span class='k'>premise:</span> {esc(r['text'])}</div><div><span class='k'>hypothesis:</span> {esc(r['text_pair'])}</div>"
        label = lambda c: esc(names[int(c)]) if 0 <= int(c) < len(names) else _num(int(c))  # noqa: E731
        rows.append([str(rank), esc(str(r["id"])), text, label(r["gold"]), label(r["pred"]),
                     _num(r["confidence"]), _num(r["variability"]), _num(r["correctness"])])
    out.append(_table(["#", "id", "text", "gold", "predicted", "confidence", "variability", "correctness"], rows, "records")
               if rows else "<p>No hard-to-learn examples.</p>")
    return "\n".join(out)


def _label_issues(rd: RunDir, table) -> str:
    """The top of ``RUN/label_issues.parquet`` (``datamap errors``) with texts; empty without the file."""
    if not rd.label_issues.exists():
        return ""
    import pyarrow.parquet as pq

    from datamap.io.readers import read_parquet

    issues = read_parquet(rd.label_issues)
    meta = json.loads((pq.read_schema(rd.label_issues).metadata or {}).get(b"datamap", b"{}"))
    ranked = issues[~issues["threshold_sample"]].head(N_MISLABELED)
    texts = dict(zip(table["id"].astype(str), table["text"].astype(str)))
    method = meta.get("method", "aum")
    rows = [[_num(int(r["rank"])), esc(str(r["id"])), f"<div>{esc(texts.get(str(r['id']), ''))}</div>",
             esc(str(r["given_label"])), esc(str(r["predicted_label"])), "yes" if r["flag"] else "",
             _num(r.get(f"score_{method}"))] for _, r in ranked.iterrows()]
    n_thr = int(issues["threshold_sample"].sum())
    return "\n".join([
        f"<h3 id='label-issues'>Ranked label issues (datamap errors, {esc(method)})</h3>",
        f"<p class='rule'>{int(issues['flag'].sum()):,} of {len(issues) - n_thr:,} examples flagged "
        f"(cut: {esc(str(meta.get('cut')))}); the first {len(rows)} by rank"
        + (f"; {n_thr:,} threshold samples listed in label_issues.parquet, not ranked" if n_thr else "") + ".</p>",
        _table(["rank", "id", "text", "given", "predicted", "flagged", f"score ({method})"], rows, "records"),
    ])


def _history(rd: RunDir) -> str:
    out = ["<h2 id='training'>Training curves</h2>"]
    if not rd.history.exists():
        return out[0] + "<p>No history.json in the run (written by <code>datamap train</code>).</p>"
    try:
        epochs = json.loads(rd.history.read_text(encoding="utf-8"))["epochs"]
        if not isinstance(epochs, list) or not all(isinstance(e, dict) for e in epochs):
            raise TypeError("'epochs' must be a list of objects")
    except (ValueError, KeyError, TypeError) as exc:
        raise DatamapError(f"{rd.history}: not a valid history ({exc})") from exc
    if not epochs:
        return out[0] + "<p>history.json lists no epochs.</p>"
    sets = sorted({s for e in epochs for s in (e.get("eval") or {})})
    xs = [e.get("epoch", i) for i, e in enumerate(epochs)]

    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3.6))
    a1, a2 = fig.subplots(1, 2)
    a1.plot(xs, [e.get("train_loss", np.nan) for e in epochs], marker="o", label="train loss")
    for s in sets:
        loss = [(e.get("eval") or {}).get(s, {}).get("loss", np.nan) for e in epochs]
        if not np.all(np.isnan(np.asarray(loss, dtype=float))):
            a1.plot(xs, loss, marker=".", linestyle="--", label=f"{s} loss")
        a2.plot(xs, [(e.get("eval") or {}).get(s, {}).get("accuracy", np.nan) for e in epochs], marker="o", label=s)
    a1.set_xlabel("epoch"), a1.set_ylabel("loss"), a1.legend(fontsize=8)
    a2.set_xlabel("epoch"), a2.set_ylabel("accuracy"), a2.set_title("evaluation accuracy")
    if sets:
        a2.legend(fontsize=8)
    out.append(_img(_png(fig), "training curves"))

    header = ["epoch", "train loss", "examples/s", "seconds"] + [f"{s} {k}" for s in sets for k in ("accuracy", "loss")]
    rows = []
    for x, e in zip(xs, epochs):
        ev = e.get("eval") or {}
        rows.append([_num(x), _num(e.get("train_loss")), _num(e.get("examples_per_s")), _num(e.get("seconds"))]
                    + [_num(ev.get(s, {}).get(k)) for s in sets for k in ("accuracy", "loss")])
    out.append(_table(header, rows, "num"))
    return "\n".join(out)


def _eval_block(eval_dir: Path, title: str) -> str:
    files = sorted(eval_dir.glob("*.json")) if eval_dir.is_dir() else []
    if not files:
        return f"<p>{esc(title)}: no evaluation scores (eval/*.json).</p>"
    summary, details = [], []
    for f in files:
        sc = read_scores(f)
        summary.append([esc(f.stem), *(_num(sc.get(k)) for k in EVAL_KEYS)])
        names = [str(n) for n in sc.get("label_names") or []]
        per = sc.get("per_class")
        if isinstance(per, dict) and per and all(isinstance(v, dict) for v in per.values()):
            keys = sorted({k for v in per.values() for k in v})
            details.append(f"<h4>{esc(f.stem)}: per class</h4>" + _table(
                ["class", *keys], [[esc(str(c)), *(_num(v.get(k)) for k in keys)] for c, v in per.items()], "num"))
        elif isinstance(per, list) and per and all(isinstance(v, dict) for v in per):
            keys = sorted({k for v in per for k in v})
            details.append(f"<h4>{esc(f.stem)}: per class</h4>" + _table(
                keys, [[_num(v.get(k)) for k in keys] for v in per], "num"))
        conf = sc.get("confusion")
        if isinstance(conf, list) and conf and all(isinstance(r, list) for r in conf):
            labels = names if len(names) == len(conf) else [str(i) for i in range(len(conf))]
            details.append(f"<h4>{esc(f.stem)}: confusion (rows gold, columns predicted)</h4>" + _table(
                ["gold \\ pred", *labels], [[f"<b>{esc(labels[i])}</b>", *(_num(v) for v in r)] for i, r in enumerate(conf)], "num"))
    return _table(["set", *EVAL_KEYS], summary, "num") + "\n" + "\n".join(details)


def _selections(rd: RunDir) -> tuple[str, list[Path]]:
    files = sorted(rd.selections.glob("*.json")) if rd.selections.is_dir() else []
    if not files:
        return "<h2 id='selections'>Selections</h2><p>No selections (selections/*.json).</p>", []
    rows = []
    for f in files:
        try:
            s = json.loads(f.read_text(encoding="utf-8"))
            ids = s["ids"]
        except (ValueError, KeyError, TypeError) as exc:
            raise DatamapError(f"{f}: not a valid selection ({exc})") from exc
        rows.append([esc(str(s.get("name", f.stem))), esc(f.name), _num(len(ids)),
                     f"<code>{esc(json.dumps(s.get('sizes', {}), ensure_ascii=False))}</code>",
                     f"<code>{esc(json.dumps(s.get('recipe', {}), ensure_ascii=False))}</code>"])
    return "<h2 id='selections'>Selections</h2>" + _table(["name", "file", "ids", "sizes", "recipe"], rows, "sel"), files


def _strings(obj):
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _strings(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _strings(v)


def retrained_runs(run_dir: str | os.PathLike) -> list[Path]:
    """Sibling run directories whose config.yaml names one of this run's selection files.

    A run trained with ``datamap train --subset RUN/selections/NAME.json`` records that path in its
    config.yaml; any string value there that points into ``RUN/selections/`` marks it as retrained
    from this run. Unreadable configs are skipped.
    """
    import yaml

    rd = RunDir(run_dir)
    root = rd.root.resolve()
    sel_dir = (root / "selections").resolve()
    found = []
    for sib in sorted(p for p in root.parent.iterdir() if p.is_dir() and p.resolve() != root):
        cfg = sib / "config.yaml"
        if not cfg.is_file():
            continue
        try:
            conf = yaml.safe_load(cfg.read_text(encoding="utf-8"))
        except (yaml.YAMLError, OSError, UnicodeDecodeError):
            continue
        for s in _strings(conf):
            if not s.endswith(".json"):
                continue
            cands = [Path(s)] if Path(s).is_absolute() else [Path.cwd() / s, root.parent / s, sib / s]
            if any(c.resolve().parent == sel_dir for c in cands):
                found.append(sib)
                break
    return found


def write_report(run_dir: str | os.PathLike, out: str | os.PathLike | None = None, overwrite: bool = False) -> Path:
    """Write the HTML report of a run (self-contained, readable offline).

    Parameters
    ----------
    run_dir : path
        Run directory; needs ``metrics.parquet`` and ``data.parquet``. Uses when present:
        ``map.png`` (inlined; otherwise a map is drawn), ``map.html`` (linked), ``history.json``,
        ``eval/*.json``, ``selections/*.json`` and sibling runs retrained on those selections
        (see :func:`retrained_runs`).
    out : path, optional
        Output file. Default: ``RUN/report.html``.
    overwrite : bool, default False
        Replace an existing output file; without it the file is refused before any work (a
        folder is always refused).

    Returns
    -------
    pathlib.Path
        The written file.
    """
    rd = RunDir(run_dir)
    target = Path(out) if out is not None else rd.report
    refuse_existing(target, overwrite, "--out" if out is not None else "")
    table, names = load_run_table(rd.root)
    name = rd.root.resolve().name
    sel_html, _ = _selections(rd)
    retrained = retrained_runs(rd.root)
    evals = ["<h2 id='evaluation'>Evaluation</h2>", f"<h3>This run ({esc(name)})</h3>", _eval_block(rd.eval_dir, "this run")]
    for r in retrained:
        evals += [f"<h3>Retrained run {esc(r.name)}</h3>", _eval_block(r / "eval", r.name)]
    if not retrained:
        evals.append("<p class='note'>No retrained runs found beside this one (sibling folders whose "
                      "config.yaml names a file of this run's selections/).</p>")
    body = "\n".join([
        f"<h1>datamap report: {esc(name)}</h1>",
        f"<p>{len(table):,} examples, {len(names)} classes ({esc(', '.join(names))}).</p>",
        "<nav><a href='#maps'>maps</a> · <a href='#regions'>regions</a> · <a href='#mislabeled'>mislabeled</a> · "
        "<a href='#training'>training</a> · <a href='#evaluation'>evaluation</a> · <a href='#selections'>selections</a></nav>",
        _maps(rd, table),
        _regions(table, names),
        _label_issues(rd, table),
        _history(rd),
        "\n".join(evals),
        sel_html,
    ])
    page = _PAGE.replace("{title}", esc(f"datamap report: {name}")).replace("{body}", body)
    return write_text(target, page)


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 16px 24px; color: #222; max-width: 1200px; }
h1 { font-size: 22px; } h2 { border-bottom: 1px solid #ddd; padding-bottom: 3px; margin-top: 28px; }
table { border-collapse: collapse; margin: 8px 0 14px; }
th, td { border: 1px solid #ddd; padding: 3px 7px; vertical-align: top; }
th { background: #f4f4f4; }
table.num td { text-align: right; font-variant-numeric: tabular-nums; }
table.records td:nth-child(3) { max-width: 560px; white-space: pre-wrap; word-wrap: break-word; }
code { font-size: 12px; word-break: break-all; }
img { max-width: 100%; }
.note, .rule { color: #555; } .k { color: #777; }
</style>
</head>
<body>
{body}
</body>
</html>
"""
