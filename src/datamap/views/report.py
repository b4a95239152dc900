"""The run report: one self-contained HTML page (images inlined as base64, readable offline).

Sections: health checks (:mod:`datamap.core.health`: model near chance, too few epochs, class
imbalance, unbalanced selections; shown before any list), data maps, region summary (counts per region and class, the 20 most likely mislabeled
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

from datamap.core.health import (
    CHANCE_MARGIN, IMBALANCE_RATIO, MIN_EPOCHS, SELECTION_FACTOR, Finding, check_selection, health_checks,
)
from datamap.errors import DatamapError, user_errors
from datamap.eval.sets import SAME_AS_TRAIN
from datamap.core.label_errors import DEFAULT_METHOD, METHODS, method_scores, rank
from datamap.io.atomic import refuse_existing, write_text
from datamap.io.readers import read_scores
from datamap.io.rundir import RunDir
from datamap.views.interactive import REGION_ORDER, load_run_table
from datamap.views.static import REGION_COLORS

N_MISLABELED = 20
MISLABELED_RULE = (
    f"Most likely mislabeled = ranked as `datamap errors` ranks by default ({DEFAULT_METHOD}: the lowest area under "
    "the margin first, i.e. the given label's logit furthest below another class's over training; ties keep the "
    "examples' order). Run `datamap errors RUN` to flag a cut, pick another method, and show its list here."
)
EVAL_KEYS = ("n", "accuracy", "precision_macro", "recall_macro", "f1_macro", "ece")

esc = html.escape


def most_likely_mislabeled(table, k: int = N_MISLABELED):
    """The ``k`` rows ranked first by ``datamap errors``' default method (ties keep the table's order)."""
    import numpy as np

    cols = {c: table[c].to_numpy(np.float64) for c in METHODS}
    order = np.argsort(rank(method_scores(cols)[DEFAULT_METHOD]), kind="stable")
    return table.iloc[order[:k]]


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
    size = 2 if len(table) > 50_000 else 6
    for reg in REGION_ORDER:
        part = table[table["region"] == reg]
        if len(part):
            ax.scatter(part["variability"], part["confidence"], s=size, c=REGION_COLORS[reg], label=f"{reg} ({len(part):,})",
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


def _regions(table, names: list[str], rd: RunDir | None = None) -> str:
    from datamap.views.findings import regions_note

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
           f"<p class='note'>{esc(regions_note(rd))}</p>" if rd is not None else "",
           _table(["region", *names, "total", "share"], rows, "num")]
    return "\n".join(out)


def _mislabeled(rd: RunDir, table, names: list[str], findings: list[Finding] = ()) -> str:
    """The one "most likely mislabeled" list: RUN/label_issues.parquet when `datamap errors` wrote it,
    else the default ranking of `datamap errors` computed from the metrics."""
    out = []
    doubts = [f for f in findings if not f.ok and f.check in ("chance", "epochs")]
    warn = ("<p class='warn'>⚠ This list means little here: " + "; ".join(esc(f.message) for f in doubts)
            + ". A model that has not learned the task (or too few epochs) makes every example look hard.</p>") if doubts else ""
    if rd.label_issues.exists():
        return _label_issues(rd, table) + warn
    worst = most_likely_mislabeled(table)
    out.append(f"<h3 id='mislabeled'>The {N_MISLABELED} most likely mislabeled examples</h3>")
    out.append(f"<p class='rule'>{esc(MISLABELED_RULE)} {len(worst)} shown.</p>")
    out.append(warn)
    pair = "text_pair" in table.columns
    rows = []
    for rank_, (_, r) in enumerate(worst.iterrows(), 1):
        text = f"<div>{esc(r['text'])}</div>"
        if pair:
            text = f"<div><span class='k'>premise:</span> {esc(r['text'])}</div><div><span class='k'>hypothesis:</span> {esc(r['text_pair'])}</div>"
        label = lambda c: esc(names[int(c)]) if 0 <= int(c) < len(names) else _num(int(c))  # noqa: E731
        rows.append([str(rank_), esc(str(r["id"])), text, label(r["gold"]), label(r["pred"]),
                     _num(r["aum"]), _num(r["confidence"]), _num(r["variability"]), _num(r["correctness"])])
    out.append(_table(["#", "id", "text", "gold", "predicted", "aum", "confidence", "variability", "correctness"],
                      rows, "records") if rows else "<p>No examples.</p>")
    return "\n".join(out)


def _label_issues(rd: RunDir, table) -> str:
    """The top of ``RUN/label_issues.parquet`` (``datamap errors``) with texts; empty without the file."""
    if not rd.label_issues.exists():
        return ""
    issues, meta = rd.read_label_issues()
    ranked = issues[~issues["threshold_sample"]].head(N_MISLABELED)
    texts = dict(zip(table["id"].astype(str), table["text"].astype(str)))
    method = meta.get("method", "aum")
    rows = [[_num(int(r["rank"])), esc(str(r["id"])), f"<div>{esc(texts.get(str(r['id']), ''))}</div>",
             esc(str(r["given_label"])), esc(str(r["predicted_label"])), "yes" if r["flag"] else "",
             _num(r.get(f"score_{method}"))] for _, r in ranked.iterrows()]
    n_thr = int(issues["threshold_sample"].sum())
    return "\n".join([
        f"<h3 id='mislabeled'>The {len(rows)} most likely mislabeled examples (datamap errors, {esc(method)})</h3>",
        f"<p class='rule'>{int(issues['flag'].sum()):,} of {len(issues) - n_thr:,} examples flagged "
        f"(cut: {esc(str(meta.get('cut')))}); the first {len(rows)} by rank"
        + (f"; {n_thr:,} threshold samples listed in label_issues.parquet, not ranked" if n_thr else "") + ".</p>",
        _table(["rank", "id", "text", "given", "predicted", "flagged", f"score ({method})"], rows, "records"),
    ])


def _metrics_epochs(rd: RunDir) -> int | None:
    """Epochs the metrics used (metrics.json), or None when the file does not say."""
    try:
        value = json.loads(rd.metrics_json.read_text(encoding="utf-8")).get("epochs_used")
    except (OSError, ValueError, AttributeError):
        return None
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else None


def _read_selection(f: Path) -> dict:
    try:
        s = json.loads(f.read_text(encoding="utf-8"))
        if not isinstance(s, dict) or not isinstance(s["ids"], list):
            raise TypeError("'ids' must be a list")
    except (ValueError, KeyError, TypeError) as exc:
        raise DatamapError(f"{f}: not a valid selection ({exc})") from exc
    return s


def run_health(rd: RunDir, table, names: list[str]) -> list[Finding]:
    """The health checks of a run (:func:`datamap.core.health.health_checks`) from its files.

    Uses ``metrics.parquet`` (gold, last-epoch predictions), ``metrics.json`` (epochs used; when it
    is missing the epochs check is left out), the run's standard ``eval/*.json`` (accuracy and the
    gold counts of the confusion matrix; a set named ``*-same-as-train`` is reported as training
    data) and the per-class sizes of ``selections/*.json``.
    """
    evals, extra = {}, []
    for f in sorted(rd.eval_dir.glob("*.json")) if rd.eval_dir.is_dir() else []:
        sc = read_scores(f)
        conf, acc = sc.get("confusion"), sc.get("accuracy")
        if f.stem.endswith(SAME_AS_TRAIN):
            extra.append(Finding("evaluation", False, f"evaluation set {f.stem} is the training split itself: "
                                                      "its scores measure fit, not generalisation"))
            continue
        if isinstance(acc, (int, float)) and isinstance(conf, list) and conf and all(isinstance(r, list) for r in conf):
            counts = [sum(int(v) for v in r) for r in conf]
            if sum(counts):
                evals[f.stem] = (float(acc), counts)
    selections = {}
    for f in sorted(rd.selections.glob("*.json")) if rd.selections.is_dir() else []:
        counts = _selection_counts((_read_selection(f).get("sizes") or {}).get("per_class"), names)
        if counts is not None:
            selections[f.stem] = counts
    epochs = _metrics_epochs(rd)
    with user_errors(str(rd.metrics)):
        found = health_checks(gold=table["gold"].to_numpy(), pred=table["pred"].to_numpy(), n_classes=len(names),
                              epochs=epochs if epochs is not None else MIN_EPOCHS, names=names, evals=evals,
                              selections=selections)
    if epochs is None:
        found = [f for f in found if f.check != "epochs"]
    return extra + found


def _selection_counts(per, names: list[str]) -> list[int] | None:
    """A selection's ``sizes.per_class`` as counts in class-id order (None when absent, empty or not by name)."""
    if not (isinstance(per, dict) and per and set(per) <= set(names)
            and all(isinstance(v, int) and not isinstance(v, bool) for v in per.values()) and sum(per.values())):
        return None
    return [per.get(n, 0) for n in names]


def _health(findings: list[Finding], limits: str | None = None) -> str:
    bad = [f for f in findings if not f.ok]
    head = (f"<p class='warn'><b>{len(bad)} of {len(findings)} checks warn.</b> Read them before the lists below.</p>"
            if bad else f"<p class='good'>All {len(findings)} checks pass.</p>")
    items = "".join(f"<li class='{'good' if f.ok else 'warn'}'>{'✔' if f.ok else '⚠'} <b>{esc(f.check)}</b>: "
                    f"{esc(f.message)}</li>" for f in findings)
    limits = limits or (f"Limits: accuracy below the majority-class share + {CHANCE_MARGIN:g} is near chance; variability "
              f"needs at least {MIN_EPOCHS} epochs; classes warn when the largest is more than {IMBALANCE_RATIO:g} "
              f"times the smallest; a selection warns when its largest/smallest ratio is more than "
              f"{SELECTION_FACTOR:g} times the training set's.")
    return (f"<h2 id='health'>Health checks</h2>{head}<ul class='health'>{items}</ul>"
            f"<p class='note'>{esc(limits)}</p>")


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
    xs = epoch_numbers(epochs)
    out.append("<p class='note'>Epochs are counted from 1 here (history.json stores them from 0).</p>")
    out.append(_img(_png(history_figure(epochs)), "training curves"))

    header = ["epoch", "train loss", "examples/s", "seconds"] + [f"{s} {k}" for s in sets for k in ("accuracy", "loss")]
    rows = []
    for x, e in zip(xs, epochs):
        ev = e.get("eval") or {}
        rows.append([_num(x), _num(e.get("train_loss")), _num(e.get("examples_per_s")), _num(e.get("seconds"))]
                    + [_num(ev.get(s, {}).get(k)) for s in sets for k in ("accuracy", "loss")])
    out.append(_table(header, rows, "num"))
    return "\n".join(out)


def epoch_numbers(epochs: list[dict]) -> list[int]:
    """The 1-based epoch numbers people read, from history.json's 0-based ``epoch`` fields."""
    return [int(e.get("epoch", i)) + 1 for i, e in enumerate(epochs)]


def history_figure(epochs: list[dict]):
    """Training loss (and evaluation loss) and evaluation accuracy per epoch, epochs 1-based on integer ticks."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    sets = sorted({s for e in epochs for s in (e.get("eval") or {})})
    xs = epoch_numbers(epochs)
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
    for ax in (a1, a2):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # no tick at epoch 0.5
    if sets:
        a2.legend(fontsize=8)
    return fig


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


def _selections(rd: RunDir, names: list[str], train_counts: list[int]) -> tuple[str, list[Path]]:
    files = sorted(rd.selections.glob("*.json")) if rd.selections.is_dir() else []
    if not files:
        return "<h2 id='selections'>Selections</h2><p>No selections (selections/*.json).</p>", []
    rows = []
    for f in files:
        s = _read_selection(f)
        sizes = s.get("sizes") if isinstance(s.get("sizes"), dict) else {}
        recipe = s.get("recipe") if isinstance(s.get("recipe"), dict) else {}
        rows.append([esc(str(s.get("name", f.stem))), esc(f.name), _num(len(s["ids"])),
                     _words(sizes.get("parts") or {k: v for k, v in sizes.items() if k not in ("per_class", "total")}),
                     _per_class(sizes.get("per_class"), names, train_counts), _words(recipe)])
    return ("<h2 id='selections'>Selections</h2>"
            + _table(["name", "file", "examples", "parts", "per class", "recipe"], rows, "sel"), files)


def _words(d) -> str:
    """A mapping as ``key value`` pairs, leaving out empty and off values (0, false, null, [])."""
    if not isinstance(d, dict):
        return _num(d)
    parts = []
    for k, v in d.items():
        if v is None or v is False or (isinstance(v, (int, float)) and not isinstance(v, bool) and v == 0 and k != "seed") \
                or (isinstance(v, (list, dict, str)) and not v):
            continue
        if isinstance(v, dict):
            v = "(" + _words(v) + ")"
        elif isinstance(v, list):
            v = esc(", ".join(str(x) for x in v))
        elif v is True:
            v = "yes"
        else:
            v = _num(v)
        parts.append(f"{esc(str(k))} {v}")
    return "; ".join(parts) or "–"


def _per_class(per, names: list[str], train_counts: list[int]) -> str:
    """``neg 80 (81%), pos 19 (19%)``, marked when :func:`datamap.core.health.check_selection` warns."""
    if not isinstance(per, dict) or not per or not all(isinstance(v, int) for v in per.values()):
        return "–"
    total = max(sum(per.values()), 1)
    text = ", ".join(f"{esc(str(k))} {v:,} ({100 * v / total:.0f}%)" for k, v in per.items())
    counts = _selection_counts(per, names)
    if counts is not None and not check_selection(counts, train_counts).ok:
        text += " <b class='warn'>⚠ unbalanced</b>"
    return text


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
    from datamap.io.yamlsafe import load_yaml_file

    rd = RunDir(run_dir)
    root = rd.root.resolve()
    sel_dir = (root / "selections").resolve()
    found = []
    for sib in sorted(p for p in root.parent.iterdir() if p.is_dir() and p.resolve() != root):
        cfg = sib / "config.yaml"
        if not cfg.is_file():
            continue
        try:
            conf = load_yaml_file(cfg)
        except DatamapError:
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
    from datamap.views.static import metrics_kind

    if metrics_kind(rd) == "sft":  # no classes: token-level sections (datamap.views.sft_report)
        from datamap.views.sft_report import sft_report_body

        body = sft_report_body(rd)
        return write_text(target, _PAGE.replace("{title}", esc(f"datamap report: {rd.root.resolve().name}"))
                          .replace("{body}", body))
    table, names = load_run_table(rd.root)
    name = rd.root.resolve().name
    train_counts = [int((table["gold"] == c).sum()) for c in range(len(names))]
    sel_html, _ = _selections(rd, names, train_counts)
    retrained = retrained_runs(rd.root)
    evals = ["<h2 id='evaluation'>Evaluation</h2>", f"<h3>This run ({esc(name)})</h3>", _eval_block(rd.eval_dir, "this run")]
    for r in retrained:
        evals += [f"<h3>Retrained run {esc(r.name)}</h3>", _eval_block(r / "eval", r.name)]
    if not retrained:
        evals.append("<p class='note'>No retrained runs found beside this one (sibling folders whose "
                      "config.yaml names a file of this run's selections/).</p>")
    findings = run_health(rd, table, names)
    from datamap.views.findings import describe_run

    body = "\n".join([
        f"<h1>datamap report: {esc(name)}</h1>",
        f"<p>{len(table):,} examples, {len(names)} classes ({esc(', '.join(names))}).</p>",
        f"<p id='run-about'>Run: {esc(describe_run(rd))}</p>" if describe_run(rd) else "",
        "<nav><a href='#health'>health</a> · <a href='#maps'>maps</a> · <a href='#regions'>regions</a> · "
        "<a href='#mislabeled'>mislabeled</a> · <a href='#training'>training</a> · <a href='#evaluation'>evaluation</a> · "
        "<a href='#selections'>selections</a></nav>",
        _health(findings),
        _maps(rd, table),
        _regions(table, names, rd),
        _mislabeled(rd, table, names, findings),
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
.warn { color: #a33a00; } .good { color: #1a6b30; }
ul.health { list-style: none; padding-left: 4px; } ul.health li { margin: 3px 0; }
</style>
</head>
<body>
{body}
</body>
</html>
"""
