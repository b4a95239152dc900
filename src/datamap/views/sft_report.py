"""The report of an sft run (causal-LM fine-tuning): what :func:`datamap.views.report.write_report`
writes when ``metrics.json`` says ``"kind": "sft"``.

Sections: the data maps (as for classifiers), regions with their mean token loss, token accuracy and
exact share, the loss trajectory (mean token loss and token accuracy per record point, overall and
per region), the examples with the highest mean token loss (prompt and completion, escaped and
truncated), the training curves, the evaluation scores (loss, token accuracy, exact match) and the
selections. There are no classes: no per-class counts, no label-error lists.
"""

from __future__ import annotations

import json

import numpy as np

from datamap.io.readers import read_parquet
from datamap.io.rundir import RunDir
from datamap.views.report import _history, _img, _maps, _num, _png, _selections, _table, esc
from datamap.views.static import REGION_COLORS

N_HARDEST = 20
TEXT_CHARS = 300  # characters of a prompt or completion shown in the table
SFT_EVAL_KEYS = ("n", "loss", "token_accuracy", "exact_match")


def _cut(text: str, n: int = TEXT_CHARS) -> str:
    text = str(text)
    return esc(text if len(text) <= n else text[:n] + "…")


def _regions(rd: RunDir, table) -> str:
    from datamap.core.sft_metrics import region_summary
    from datamap.views.findings import regions_note

    summary = region_summary(table["region"].to_numpy(), table["mean_loss"].to_numpy(), table["correctness"].to_numpy(),
                             table["exact"].to_numpy())
    rows = [[f"<b>{esc(str(r))}</b>", _num(row["count"]), _num(row["mean_loss"]), _num(row["token_accuracy"]),
             _num(row["exact"])] for r, row in summary.items()]
    rows.append(["<b>all</b>", _num(len(table)), _num(table["mean_loss"].mean()), _num(table["correctness"].mean()),
                 _num(table["exact"].mean())])
    return "\n".join(["<h2 id='regions'>Region summary</h2>",
                      "<p>Examples per region, with their mean token loss, token accuracy and share of record points "
                      "at which every completion token was predicted (exact).</p>",
                      f"<p class='note'>{esc(regions_note(rd))} Variability is the spread of that probability, "
                      "exp(−token loss), over the record points.</p>",
                      _table(["region", "examples", "mean token loss", "token accuracy", "exact"], rows, "num")])


def trajectory_figure(dyn, regions: np.ndarray):
    """Mean token loss and token accuracy per record point: all examples and each region."""
    from matplotlib.figure import Figure

    loss = dyn.loss_sum / dyn.n_tokens
    acc = dyn.n_correct / dyn.n_tokens
    xs = np.arange(1, dyn.n_points + 1)
    fig = Figure(figsize=(10, 3.6))
    a1, a2 = fig.subplots(1, 2)
    a1.plot(xs, loss.mean(axis=0), marker="o", color="black", label=f"all ({len(loss):,})")
    a2.plot(xs, acc.mean(axis=0), marker="o", color="black", label="all")
    for reg, color in REGION_COLORS.items():
        on = regions == reg
        if on.any():
            a1.plot(xs, loss[on].mean(axis=0), marker=".", color=color, label=f"{reg} ({int(on.sum()):,})")
            a2.plot(xs, acc[on].mean(axis=0), marker=".", color=color, label=reg)
    a1.set_xlabel("record point"), a1.set_ylabel("mean token loss (nats)"), a1.legend(fontsize=8)
    a2.set_xlabel("record point"), a2.set_ylabel("token accuracy"), a2.set_ylim(-0.02, 1.02)
    a1.set_title("loss trajectory"), a2.set_title("token accuracy")
    return fig


def _trajectory(rd: RunDir, table) -> str:
    from datamap.io.store import read_sft_dynamics

    out = ["<h2 id='trajectory'>Loss trajectory</h2>"]
    source = rd.dynamics_source()
    if not source.exists():
        return out[0] + f"<p>No {esc(source.name)} in the run.</p>"
    dyn = read_sft_dynamics(source)
    region = dict(zip(table["id"].astype(str), table["region"].astype(str)))
    regions = np.array([region.get(str(i), "none") for i in dyn.ids], dtype=object)
    out.append(f"<p class='note'>{dyn.n_points} record points (recording: {esc(str(dyn.meta.get('record')))}"
               + (f", every {int(dyn.meta['record_every'])} steps" if dyn.meta.get("record_every") else "")
               + "), counted from 1 here.</p>")
    out.append(_img(_png(trajectory_figure(dyn, regions)), "loss trajectory"))
    loss = dyn.loss_sum / dyn.n_tokens
    acc = dyn.n_correct / dyn.n_tokens
    exact = dyn.n_correct == dyn.n_tokens
    rows = [[_num(p + 1), _num(int(dyn.epochs[p]) + 1), _num(int(dyn.steps[p])), _num(loss[:, p].mean()),
             _num(float(np.median(loss[:, p]))), _num(acc[:, p].mean()), _num(exact[:, p].mean())]
            for p in range(dyn.n_points)]
    out.append(_table(["point", "epoch", "step", "mean token loss", "median token loss", "token accuracy", "exact"],
                      rows, "num"))
    return "\n".join(out)


def _hardest(rd: RunDir, table) -> str:
    data = read_parquet(rd.data, columns=["id", "prompt", "completion"])
    data["id"] = data["id"].astype(str)
    top = table.assign(id=table["id"].astype(str)).nlargest(N_HARDEST, "mean_loss", keep="first")
    top = top.merge(data, on="id", how="left")
    rows = [[_num(i + 1), f"<code>{esc(r['id'])}</code>", _cut(r["prompt"]), _cut(r["completion"]), _num(r["mean_loss"]),
             _num(r["last_loss"]), _num(r["correctness"]), esc(str(r["region"]))]
            for i, (_, r) in enumerate(top.iterrows())]
    return "\n".join([f"<h2 id='hardest'>Highest mean token loss ({len(rows)})</h2>",
                      "<p class='note'>The examples the model found hardest over training (largest mean token loss): "
                      "wrong or noisy answers often land here. Texts are cut at "
                      f"{TEXT_CHARS} characters.</p>",
                      _table(["#", "id", "prompt", "completion", "mean token loss", "last token loss", "token accuracy",
                              "region"], rows, "records sft")])


def _evaluation(rd: RunDir) -> str:
    out = ["<h2 id='evaluation'>Evaluation</h2>"]
    files = sorted(rd.eval_dir.glob("*.json")) if rd.eval_dir.is_dir() else []
    if not files:
        return out[0] + "<p>No evaluation scores (eval/*.json).</p>"
    rows = []
    for f in files:
        try:
            sc = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            sc = {}
        sc = sc if isinstance(sc, dict) else {}
        rows.append([esc(f.stem), *(_num(sc.get(k)) for k in SFT_EVAL_KEYS)])
    return out[0] + _table(["set", *SFT_EVAL_KEYS], rows, "num")


def sft_report_body(rd: RunDir) -> str:
    """The report's HTML body of an sft run (every piece of text from the run escaped)."""
    from datamap.core.health import MIN_EPOCHS, UNIGRAM_SHARE
    from datamap.views.findings import describe_run, sft_findings
    from datamap.views.report import _health

    rd.require(rd.metrics, rd.data, hint="run `datamap metrics RUN` first")
    table = read_parquet(rd.metrics)
    name = rd.root.resolve().name
    sel_html, _ = _selections(rd, [], [])
    return "\n".join([
        f"<h1>datamap report: {esc(name)}</h1>",
        f"<p>{len(table):,} examples, causal-LM fine-tuning (sft: prompt → completion, token-level metrics).</p>",
        f"<p id='run-about'>Run: {esc(describe_run(rd))}</p>" if describe_run(rd) else "",
        "<nav><a href='#health'>health</a> · <a href='#maps'>maps</a> · <a href='#regions'>regions</a> · <a href='#trajectory'>loss trajectory</a> · "
        "<a href='#hardest'>hardest</a> · <a href='#training'>training</a> · <a href='#evaluation'>evaluation</a> · "
        "<a href='#selections'>selections</a></nav>",
        _health(sft_findings(rd), f"Limits: a mean token loss above {UNIGRAM_SHARE:g} x the unigram baseline's (every "
                f"target token predicted by its frequency in the training targets) has learnt (next to) nothing; "
                f"variability needs at least {MIN_EPOCHS} record points."),
        _maps(rd, table),
        _regions(rd, table),
        _trajectory(rd, table),
        _hardest(rd, table),
        _history(rd),
        _evaluation(rd),
        sel_html,
    ])
