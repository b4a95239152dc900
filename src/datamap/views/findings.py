"""What every page and command output says about a run besides its numbers.

- :func:`run_findings`: the run's health checks (:mod:`datamap.core.health`: near chance, too few
  epochs, imbalance, same-as-train evaluation...), read from its files as the report reads them;
- :func:`describe_run`: one line naming the model, data, split sizes, epochs, lr, seed and precision
  that made the run (from ``config.yaml``, ``data.parquet`` and ``heldout.parquet``);
- :func:`regions_note`: what the regions are (rankings, not thresholds) and what ``none`` is.

``map.html``, ``map.png`` (its subtitle), ``report.html`` and the output of ``metrics`` and
``select`` (text and ``--json``) show them.
"""

from __future__ import annotations

import json
import os

from datamap.core.health import Finding
from datamap.core.regions import REGION_FRACTION
from datamap.io.rundir import RunDir


def run_findings(run: "str | os.PathLike | RunDir") -> list[Finding]:
    """The health checks of a run with ``metrics.parquet`` (see :func:`datamap.views.report.run_health`)."""
    import pyarrow.parquet as pq

    from datamap.views.report import run_health

    rd = run if isinstance(run, RunDir) else RunDir(run)
    if not rd.metrics.exists():  # e.g. select --drop-errors straight from label_issues.parquet: nothing to judge
        return []
    from datamap.views.static import metrics_kind

    if metrics_kind(rd) == "sft":
        return sft_findings(rd)
    if not {"gold", "pred"} <= set(pq.read_schema(rd.metrics).names):  # metrics of another tool: nothing to judge
        return []
    table = pq.read_table(rd.metrics, columns=["gold", "pred"]).to_pandas()
    n = int(table["gold"].max()) + 1 if len(table) else 1
    names = rd.label_names() if rd.labels.exists() else [str(i) for i in range(n)]
    return run_health(rd, table, names)


def sft_findings(rd: RunDir) -> list[Finding]:
    """The health checks of an sft run: each evaluation set's and the training set's (last record point used) mean
    token loss against the unigram baseline (:func:`datamap.core.health.check_unigram`; the baselines are in
    ``history.json`` and ``eval/<set>.json``, runs without them skip the check), and the record points used."""
    import pyarrow.parquet as pq

    from datamap.core.health import check_epochs, check_unigram

    found = []
    try:
        history = json.loads(rd.history.read_text(encoding="utf-8")) if rd.history.is_file() else {}
    except (OSError, ValueError):
        history = {}
    baselines = history.get("unigram_loss") if isinstance(history, dict) else None
    baselines = baselines if isinstance(baselines, dict) else {}
    for f in sorted(rd.eval_dir.glob("*.json")) if rd.eval_dir.is_dir() else []:
        try:
            sc = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(sc, dict) and all(isinstance(sc.get(k), (int, float)) for k in ("loss", "unigram_loss")):
            found.append(check_unigram(float(sc["loss"]), float(sc["unigram_loss"]), what=f"evaluation set {f.stem}"))
    if isinstance(baselines.get("train"), (int, float)) and {"last_loss", "n_tokens"} <= set(pq.read_schema(rd.metrics).names):
        t = pq.read_table(rd.metrics, columns=["last_loss", "n_tokens"]).to_pandas()
        if len(t):
            loss = float((t["last_loss"] * t["n_tokens"]).sum() / t["n_tokens"].sum())
            found.append(check_unigram(loss, float(baselines["train"]),
                                       what="training set (token loss at the last record point used)"))
    from datamap.views.sft_map import points_used

    used = points_used(rd)
    if used is not None:
        found.append(check_epochs(used, unit="record point"))
    return found


def warnings_of(findings: list[Finding]) -> list[Finding]:
    """The findings that warn (``ok`` False)."""
    return [f for f in findings if not f.ok]


def health_lines(findings: list[Finding]) -> list[str]:
    """One ``⚠ health CHECK: message`` line per warning, for a command's text output."""
    return [f"⚠ health {f.check}: {f.message}" for f in warnings_of(findings)]


def health_json(findings: list[Finding]) -> list[dict]:
    """The findings as ``[{"check", "ok", "message"}]`` for ``--json`` outputs."""
    return [f.to_dict() for f in findings]


def _config(rd: RunDir) -> dict:
    try:
        return rd.read_config()
    except Exception:  # an unreadable config: the page just says less
        return {}


def _rows(path) -> int | None:
    import pyarrow.parquet as pq

    try:
        return int(pq.read_metadata(path).num_rows) if path.is_file() else None
    except Exception:
        return None


def describe_run(run: "str | os.PathLike | RunDir") -> str:
    """``model M · data D (split S, N training rows, K held out) · E epochs · lr L · seed S · precision P``.

    Fields the run's ``config.yaml`` lacks (imported runs) are left out; an empty string when nothing is known.
    """
    rd = run if isinstance(run, RunDir) else RunDir(run)
    cfg = _config(rd)
    parts = []
    if cfg.get("model"):
        parts.append(f"model {cfg['model']}")
    data = cfg.get("dataset")
    sizes = []
    if cfg.get("split"):
        sizes.append(f"split {cfg['split']}")
    n, held = _rows(rd.data), _rows(rd.heldout)
    if n is not None:
        sizes.append(f"{n:,} training rows")
    if held is not None:
        sizes.append(f"{held:,} held out for evaluation")
    if data or sizes:
        name = f"{data}" + (f"/{cfg['dataset_config']}" if cfg.get("dataset_config") else "") if data else "data"
        parts.append(f"data {name}" + (f" ({', '.join(sizes)})" if sizes else ""))
    for key, label in (("epochs", "epochs"), ("lr", "lr"), ("seed", "seed"), ("precision", "precision")):
        if cfg.get(key) is not None:
            parts.append(f"{cfg[key]} epochs" if key == "epochs" else f"{label} {cfg[key]}")
    return " · ".join(parts)


def regions_note(run: "str | os.PathLike | RunDir | None" = None) -> str:
    """What the regions mean, with the run's fraction (metrics.json) when known (else the default 0.33)."""
    frac = REGION_FRACTION
    if run is not None:
        rd = run if isinstance(run, RunDir) else RunDir(run)
        try:
            value = json.loads(rd.metrics_json.read_text(encoding="utf-8")).get("fraction")
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                frac = float(value)
        except (OSError, ValueError, AttributeError):
            pass
    pct = f"{100 * frac:g} %"
    sft = False
    if run is not None:
        from datamap.views.static import metrics_kind

        sft = metrics_kind(run if isinstance(run, RunDir) else RunDir(run)) == "sft"
    last = ("even completions reproduced exactly at every record point when the model learnt them all (confidence "
            "here: the mean over the record points of the geometric-mean probability of the completion's tokens)."
            if sft else "even examples correct in every epoch when the model learnt them all.")
    return (f"Regions are rankings, not thresholds (allenai): ambiguous = the top {pct} of the examples by "
            f"variability, easy = the top {pct} by confidence, hard = the bottom {pct} by confidence; an example "
            "in several rankings takes one label (ambiguous > easy > hard), and 'none' is every example in none of "
            "the three (the middle of the rankings). Being ranked, 'hard' always holds the least confident share, "
            + last)
