"""One stage shape: each command is ``verb(target, opts, *, overwrite=False) -> Result``.

``target`` is what the command's argument names (a run directory, a dataset, a model, a list of runs),
``opts`` its options model (:mod:`datamap.stages.options`) and ``overwrite`` whether existing outputs may
be replaced (only on the commands that write files that may exist). The verb is named like the command
(``import-dynamics`` -> :func:`import_dynamics`) and does everything but printing: it turns the options
into the stage's arguments, calls the stage function and returns a :class:`Result` that knows the files
written and the command's summary (what ``--json`` prints). The command line only prints the result
(:func:`datamap.cli.emit`). ``datamap train`` (``TrainConfig``, :func:`datamap.training.loop.train`) and
``datamap run`` (a YAML file) keep their own shape.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from datamap.errors import DatamapError

__all__ = ["Result", "VERBS"]


@dataclass(frozen=True)
class Result:
    """What a command did: its name, the files it wrote, its summary and the stage's own return value.

    ``summary()`` is the JSON object ``--json`` prints: ``command``, the command's figures, ``files``.
    ``value`` is what the stage function returned (a table, :class:`~datamap.stages.errors.LabelIssues`,
    ...) for the text the command prints for people.
    """

    command: str
    files: tuple[Path, ...]
    data: dict = field(default_factory=dict)
    value: Any = None

    def summary(self) -> dict:
        return {"command": self.command, **self.data, "files": [str(f) for f in self.files]}


def run_files(rd) -> tuple[Path, ...]:
    """The files of the contract a training or import wrote (those that exist)."""
    return tuple(f for f in (rd.config, rd.data, rd.dynamics, rd.history, rd.manifest) if f.exists())


def run_result(command: str, root: "str | os.PathLike", **extra: Any) -> Result:
    """The result of a command that writes a whole run directory (``train``, ``import-dynamics``)."""
    from datamap.io.rundir import RunDir

    import json

    rd = RunDir(root)
    data = {"run": str(rd.root), **extra}
    if rd.history.exists():  # a trained run: its epochs and the last one
        epochs = json.loads(rd.history.read_text(encoding="utf-8")).get("epochs", [])
        data.update(epochs=len(epochs), last_epoch=epochs[-1] if epochs else None)
    return Result(command, run_files(rd), data)


# ------------------------------------------------------------------------------------------ the verbs


def metrics(run: "str | os.PathLike", opts) -> Result:
    """``datamap metrics``: metrics.parquet, regions.json, metrics.json; the regions x gold class counts."""
    from datamap.io.rundir import RunDir
    from datamap.stages.measure import measure_run, summary_counts
    from datamap.views.findings import health_json, run_findings, sft_findings

    table = measure_run(run, **opts.kwargs())
    rd = RunDir(run)
    files = (rd.metrics, rd.regions_json, rd.metrics_json)
    if "gold" not in table.columns:  # an sft run: regions x (count, loss, token accuracy, exact)
        from datamap.stages.measure_sft import sft_region_summary

        summary, findings = sft_region_summary(table), sft_findings(rd)
        data = {"run": str(rd.root), "kind": "sft", "n_examples": len(table),
                "regions": {str(r): {k: (int(v) if k == "count" else float(v)) for k, v in row.items()}
                            for r, row in summary.iterrows()},
                "health": health_json(findings)}
        return Result("metrics", files, data, {"table": table, "regions": summary, "findings": findings})
    names = rd.label_names() if rd.labels.exists() else [str(i) for i in range(int(table["gold"].max()) + 1)]
    counts = summary_counts(table, names)
    findings = run_findings(rd)
    data = {"run": str(rd.root), "n_examples": len(table), "label_names": names,
            "regions": {str(r): {str(k): int(v) for k, v in row.items()} for r, row in counts.iterrows()},
            "health": health_json(findings)}
    return Result("metrics", files, data, {"table": table, "regions": counts, "findings": findings})


def plot(run: "str | os.PathLike", opts, *, overwrite: bool = False) -> Result:
    """``datamap plot``: map.png, or with ``html`` the interactive map."""
    if opts.html:
        from datamap.views.interactive import write_html_map

        path = write_html_map(run, **opts.kwargs("out", "color_by", "max_points", "seed", "xy", "embeddings", "clusters",
                                                 "projection"), overwrite=overwrite)
    elif opts.xy != type(opts).default("xy") or opts.embeddings is not None or opts.clusters is not None:
        raise DatamapError("--xy, --embeddings and --clusters draw the interactive map: add --html")
    else:
        from datamap.views.static import write_map_png

        path = write_map_png(run, **opts.kwargs("out", "max_points", "seed"), overwrite=overwrite)
    return Result("plot", (Path(path),), {"run": str(run)}, path)


def import_dynamics(folder: "str | os.PathLike", opts, *, overwrite: bool = False) -> Result:
    """``datamap import-dynamics``: a run directory from allenai-format jsonl files."""
    from datamap.stages.interop import import_dynamics as do_import

    names = [s.strip() for s in opts.label_names.split(",")] if opts.label_names else None
    rd = do_import(folder, opts.out, label_names=names, **opts.kwargs("dataset", "split"), columns=opts.columns(),
                   overwrite=overwrite, probabilities=opts.probabilities)
    return run_result("import-dynamics", rd.root)


def export_dynamics(run: "str | os.PathLike", opts, *, overwrite: bool = False) -> Result:
    """``datamap export-dynamics``: one allenai-format jsonl file per epoch."""
    from datamap.stages.interop import export_dynamics as do_export

    paths = do_export(run, opts.out, overwrite=overwrite)
    return Result("export-dynamics", tuple(Path(p) for p in paths), {"run": str(run)}, paths)


def _scores_result(command: str, scores: dict, path: Path) -> Result:
    return Result(command, (path,), {**scores, "file": str(path)}, scores)


def evaluate(model_or_run: str, opts, *, overwrite: bool = False) -> Result:
    """``datamap evaluate``: eval/NAME.json and eval/NAME.parquet of a model on a labelled set."""
    from datamap.stages.evaluate import evaluate as do_eval

    scores, run = do_eval(model_or_run, opts.dataset, opts.split, **opts.kwargs("out", "name", "batch_size", "max_length"),
                          columns=opts.columns(), overwrite=overwrite)
    return _scores_result("evaluate", scores, run.eval_scores(scores["set"]))


def ensemble(runs: Sequence[str], opts, *, overwrite: bool = False) -> Result:
    """``datamap ensemble``: the weighted mean of several models' logits, scored like one model."""
    from datamap.eval.ensemble import parse_weights
    from datamap.io.rundir import RunDir
    from datamap.stages.evaluate import ensemble as do_ensemble

    scores = do_ensemble(list(runs), parse_weights(opts.weights, len(runs)).tolist(), opts.dataset, opts.split, opts.out,
                         **opts.kwargs("name", "batch_size", "max_length"), overwrite=overwrite)
    return _scores_result("ensemble", scores, RunDir(opts.out).eval_scores(scores["set"]))


def report(run: "str | os.PathLike", opts, *, overwrite: bool = False) -> Result:
    """``datamap report``: report.html."""
    from datamap.views.report import write_report

    path = write_report(run, out=opts.out, overwrite=overwrite)
    return Result("report", (Path(path),), {"run": str(run)}, path)


def select(run: "str | os.PathLike", opts, *, overwrite: bool = False) -> Result:
    """``datamap select``: RUN/selections/NAME.json (+ .parquet, .csv), one per fraction with a sweep."""
    from datamap.stages.select import select_run
    from datamap.views.findings import health_json, run_findings

    recipe = opts.recipe()
    saved = select_run(run, opts.out, recipe, sweep=opts.sweep, fractions=opts.sweep_fractions(),
                       **opts.kwargs("seed", "csv", "dataset", "clusters", "drop_errors"), overwrite=overwrite)
    findings = run_findings(run)
    files = tuple(Path(p) for s in saved for p in s.paths.values() if p is not None)
    return Result("select", files, {"selections": [s.summary() for s in saved], "health": health_json(findings)},
                  {"saved": saved, "findings": findings})


def embed(run_or_model: str, opts, *, overwrite: bool = False) -> Result:
    """``datamap embed``: one vector per example (Parquet)."""
    from datamap.stages.embed import embed as do_embed

    path, n, meta = do_embed(run_or_model, **opts.kwargs("dataset", "split", "out", "model", "pooling", "dtype",
                                                         "batch_size", "max_length", "trust_remote_code"),
                             overwrite=overwrite, columns=opts.columns())
    return Result("embed", (Path(path),), {"n": int(n), "pooling": meta["pooling"], "model": meta["model"]},
                  {"path": path, "n": n, "meta": meta})


def cluster(embeddings: "str | os.PathLike", opts, *, overwrite: bool = False) -> Result:
    """``datamap cluster``: cluster labels, distances and centroids (Parquet) of embeddings or trajectories."""
    from datamap.stages.cluster import cluster_file, cluster_trajectories

    embeddings = Path(embeddings)
    if opts.on == "trajectories":
        result, cpath, centroids = cluster_trajectories(embeddings, out=opts.out, overwrite=overwrite,
                                                        standardize=opts.standardize, **opts.fit_kwargs())
    elif opts.standardize:
        raise DatamapError("--standardize applies to --on trajectories (use --normalize for embeddings)")
    else:
        path = embeddings / "embeddings.parquet" if embeddings.is_dir() else embeddings
        result, cpath, centroids = cluster_file(path, out=opts.out, overwrite=overwrite, **opts.fit_kwargs())
    return Result("cluster", (Path(cpath), Path(centroids)), result.summary(), result)


def noise(dataset: str, opts, *, overwrite: bool = False) -> Result:
    """``datamap noise``: a copy of DATASET with a known fraction of its labels flipped, and the flips."""
    from datamap.stages.noise import make_noisy, parse_mapping

    res = make_noisy(dataset, opts.out, **opts.kwargs("kind", "rate", "matrix"), mapping=parse_mapping(opts.mapping),
                     **opts.kwargs("seed", "split", "text_column", "text_pair_column", "label_column", "id_column"),
                     overwrite=overwrite)
    per_class = {str(r[0]): {"n": int(r.n), "flipped": int(r.flipped)} for r in res.per_class.itertuples(index=False)}
    return Result("noise", (Path(res.out), Path(res.flipped_path)),
                  {"n": int(res.n), "n_flipped": int(res.n_flipped), "per_class": per_class}, res)


def errors(run: "str | os.PathLike", opts, *, overwrite: bool = False) -> Result:
    """``datamap errors``: RUN/label_issues.parquet; the summary lists the ``top`` most likely mislabeled."""
    from datamap.stages.errors import describe_cut, find_errors, with_texts

    res = find_errors(run, **opts.kwargs("method", "probs", "percentile", "cut", "max_class_share", "force_flag"),
                      overwrite=overwrite)
    ranked = res.table[~res.table["threshold_sample"]]
    top_rows = with_texts(run, ranked.head(opts.top)) if opts.top else None
    data = {"method": res.method, "cut": describe_cut(res, opts.percentile), "n": len(ranked),
            "n_flagged": int(ranked["flag"].sum()), "n_threshold_samples": int(res.n_threshold),
            "capped": [{"label_id": int(c.label), "n": int(c.n), "before": int(c.before), "after": int(c.after)}
                       for c in res.capped], "forced": res.forced or None,
            "top": [] if top_rows is None else [
                {"rank": int(r.rank), "id": str(r.id), "flag": bool(r.flag), "given_label": str(r.given_label),
                 "predicted_label": str(r.predicted_label)} for r in top_rows.itertuples(index=False)]}
    return Result("errors", (Path(res.path),), data, {"issues": res, "ranked": ranked, "shown": top_rows})


def relabel(run: "str | os.PathLike", opts, *, overwrite: bool = False) -> Result:
    """``datamap relabel``: RUN's rows with the flagged examples relabelled to the model's prediction."""
    from datamap.stages.actions import relabel_run

    res = relabel_run(run, opts.out, overwrite=overwrite)
    return Result("relabel", (Path(res.out),),
                  {"n": int(res.n), "n_flagged": int(res.n_flagged), "n_changed": int(res.n_changed)}, res)


def weights(run: "str | os.PathLike", opts, *, overwrite: bool = False) -> Result:
    """``datamap weights``: per-example loss weights from RUN's label issues."""
    from datamap.stages.actions import weights_run

    res = weights_run(run, opts.out, flagged_weight=opts.flagged_weight, overwrite=overwrite)
    return Result("weights", (Path(res.out),),
                  {"n": int(res.n), "n_flagged": int(res.n_flagged), "flagged_weight": opts.flagged_weight}, res)


def crossval(config: "str | os.PathLike", opts, *, overwrite: bool = False) -> Result:
    """``datamap crossval``: K fold runs and DIR/oof_probs.parquet."""
    from datamap.stages.crossval import crossval as run_crossval

    res = run_crossval(config, opts.out, **opts.kwargs("folds", "seed"), overwrite=overwrite)
    return Result("crossval", (Path(res.oof_path),),
                  {"n": int(res.n), "folds": len(res.runs), "accuracy": float(res.accuracy),
                   "runs": [str(r) for r in res.runs]}, res)


def compare(runs: Sequence["str | os.PathLike"], opts, *, json_out: "str | os.PathLike | None" = None,
            overwrite: bool = False) -> Result:
    """``datamap compare``: the runs' evaluation scores side by side (``--csv``/``--json`` files written too)."""
    from datamap.io.atomic import refuse_existing
    from datamap.stages.compare import compare_json, compare_table, write_compare

    for flag, path in (("--csv", opts.csv), ("--json", json_out)):
        if path is not None:
            refuse_existing(path, overwrite, flag)
    labels, rows = compare_table(runs, opts.sets or None, opts.metrics or None)
    write_compare(rows, labels, runs, csv=opts.csv, json_out=json_out)
    files = tuple(Path(p) for p in (opts.csv, json_out) if p is not None)
    return Result("compare", files, compare_json(rows, labels, runs), {"labels": labels, "rows": rows})


#: every command's verb, by command name
VERBS = {"metrics": metrics, "plot": plot, "import-dynamics": import_dynamics, "export-dynamics": export_dynamics,
         "evaluate": evaluate, "ensemble": ensemble, "report": report, "select": select, "embed": embed,
         "cluster": cluster, "compare": compare, "noise": noise, "errors": errors, "relabel": relabel,
         "weights": weights, "crossval": crossval}
