"""Bad input to every command: one line on stderr, exit status 2, no traceback, nothing written.

A table of cases over all commands. Each case runs the CLI in-process (``datamap.cli.main``) on
fixtures built once for the module (a small run trained with the tiny BERT of ``conftest.py``,
with its metrics, maps, report, a selection, an evaluation, embeddings, clusters and an export;
plus broken copies: NaN logits, a truncated parquet, a jsonl folder with a gap...). Before and
after each case the whole fixture tree is snapshotted (names, sizes, mtimes and hashes): a case
passes only if no file was created, changed or removed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import make_mirror, make_sentiment_frame
from datamap.cli import main
from datamap.io.store import Dynamics, read_dynamics, write_dynamics


def call(*args) -> int:
    """Run the CLI in-process; returns the exit status (0 when it returned normally)."""
    try:
        main([str(a) for a in args])
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def ok(*args) -> None:
    code = call(*args)
    assert code == 0, f"datamap {' '.join(map(str, args))} failed with {code}"


def snapshot(root: Path) -> dict[str, tuple]:
    """Every file and folder under ``root``: (kind, size, mtime_ns, sha1 of small files)."""
    out: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            out[os.path.relpath(os.path.join(dirpath, d), root)] = ("dir",)
        for f in filenames:
            p = os.path.join(dirpath, f)
            st = os.stat(p)
            digest = hashlib.sha1(Path(p).read_bytes()).hexdigest() if st.st_size < 1 << 20 else ""
            out[os.path.relpath(p, root)] = ("file", st.st_size, st.st_mtime_ns, digest)
    return out


def _copy_run(src: Path, dst: Path, files=("config.yaml", "data.parquet", "labels.json", "dynamics.parquet")) -> Path:
    dst.mkdir(parents=True)
    for f in files:
        shutil.copy2(src / f, dst / f)
    return dst


def _with_bad_logit(run: Path, dst: Path, value: float) -> Path:
    out = _copy_run(run, dst)
    dyn = read_dynamics(run / "dynamics.parquet")
    logits = dyn.logits.copy()
    logits[3, 1, 0] = value  # example #3, epoch 1
    write_dynamics(out / "dynamics.parquet", Dynamics(dyn.ids, logits, dyn.gold, dyn.epochs))
    return out


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.fixture(scope="module")
def world(tmp_path_factory, tiny_model_dir):
    """The fixture tree: ``root/w/x/run`` (a complete run) and broken variants beside it."""
    root = tmp_path_factory.mktemp("bad_inputs")
    mirror = make_mirror(root, 40, 12, 12)
    old = os.environ.get("DATAMAP_DATA_DIR")
    os.environ["DATAMAP_DATA_DIR"] = str(mirror)
    base = root / "w" / "x"  # deep enough that paths escaping a run still land inside root
    run = base / "run"
    ok("train", "--dataset", "toy", "--model", tiny_model_dir, "--out", run, "--epochs", "2", "--batch-size", "16",
       "--lr", "5e-4", "--eval-split", "none")
    ok("metrics", run)
    ok("plot", run)
    ok("plot", run, "--html")
    ok("select", run, "--out", "amb", "--ambiguous", "0.33", "--csv")
    ok("evaluate", run, "--dataset", "toy", "--split", "test", "--batch-size", "16")
    ok("embed", run, "--batch-size", "16", "--max-length", "32")
    ok("cluster", run, "--k", "3")
    ok("export-dynamics", run)
    ok("report", run)
    (base / "scores.csv").write_text("x\n")
    (base / "scores.json").write_text("{}\n")
    (base / "a_dir").mkdir()

    p = {"root": root, "run": run, "model": tiny_model_dir, "base": base}
    p["nan"] = _with_bad_logit(run, base / "nan", float("nan"))
    p["inf"] = _with_bad_logit(run, base / "inf", float("inf"))
    p["labels3"] = _copy_run(run, base / "labels3")
    (p["labels3"] / "labels.json").write_text(json.dumps({"names": ["neg", "pos", "other"]}))
    p["otherdata"] = _copy_run(run, base / "otherdata")
    make_sentiment_frame(40, seed=3).assign(id=[f"z{i}" for i in range(40)]).to_parquet(p["otherdata"] / "data.parquet")
    p["trunc"] = _copy_run(run, base / "trunc", files=("config.yaml", "data.parquet", "labels.json", "dynamics.parquet",
                                                       "metrics.parquet"))
    _truncate(p["trunc"] / "metrics.parquet")
    _truncate(p["trunc"] / "dynamics.parquet")
    p["nometrics"] = _copy_run(run, base / "nometrics")
    p["oddeval"] = _copy_run(run, base / "oddeval", files=("config.yaml", "data.parquet", "labels.json", "metrics.parquet"))
    (p["oddeval"] / "eval").mkdir()
    (p["oddeval"] / "eval" / "odd.json").write_text(json.dumps({"accuracy": "high", "n": 12}))
    for key, value in (("per_class", 3), ("confusion", [["a", 1]]), ("label_names", [0, 1]), ("n", [12])):
        p[f"odd_{key}"] = _copy_run(run, base / f"odd_{key}", files=("data.parquet", "labels.json", "metrics.parquet"))
        (p[f"odd_{key}"] / "eval").mkdir()
        (p[f"odd_{key}"] / "eval" / "odd.json").write_text(json.dumps({"accuracy": 0.5, key: value}))
    p["listeval"] = _copy_run(run, base / "listeval", files=("config.yaml", "data.parquet", "labels.json", "metrics.parquet"))
    (p["listeval"] / "eval").mkdir()
    (p["listeval"] / "eval" / "odd.json").write_text("[1, 2]")
    p["badjson"] = _copy_run(run, base / "badjson", files=("config.yaml", "data.parquet", "labels.json", "metrics.parquet"))
    (p["badjson"] / "eval").mkdir()
    (p["badjson"] / "eval" / "odd.json").write_text("{not json")
    (p["badjson"] / "history.json").write_text("{broken")
    p["badlabels"] = _copy_run(run, base / "badlabels")
    (p["badlabels"] / "labels.json").write_text("{oops")

    td = run / "training_dynamics"
    p["td"] = td
    p["td_gap"] = base / "td_gap"
    p["td_gap"].mkdir()
    shutil.copy2(td / "dynamics_epoch_0.jsonl", p["td_gap"] / "dynamics_epoch_0.jsonl")
    text = (td / "dynamics_epoch_1.jsonl").read_text().replace("logits_epoch_1", "logits_epoch_2")
    (p["td_gap"] / "dynamics_epoch_2.jsonl").write_text(text)
    p["td_partial"] = base / "td_partial"
    shutil.copytree(td, p["td_partial"])
    (p["td_partial"] / ".partial").write_text("")
    p["td_nan"] = base / "td_nan"
    shutil.copytree(td, p["td_nan"])
    lines = (td / "dynamics_epoch_1.jsonl").read_text().splitlines()
    rec = json.loads(lines[2])
    rec["logits_epoch_1"][0] = float("nan")
    lines[2] = json.dumps(rec)
    (p["td_nan"] / "dynamics_epoch_1.jsonl").write_text("\n".join(lines) + "\n")
    p["td_strgold"] = base / "td_strgold"
    p["td_strgold"].mkdir()
    lines = (td / "dynamics_epoch_0.jsonl").read_text().splitlines()
    rec = json.loads(lines[0])
    rec["gold"] = "pos"
    lines[0] = json.dumps(rec)
    (p["td_strgold"] / "dynamics_epoch_0.jsonl").write_text("\n".join(lines) + "\n")
    p["empty_dir"] = base / "empty_dir"
    p["empty_dir"].mkdir()
    p["exported"] = base / "exported"  # a folder already used by an export
    shutil.copytree(td, p["exported"])
    p["afile"] = base / "scores.csv"
    p["expfile"] = base / "exp.yaml"  # a valid experiment file for datamap run
    p["expfile"].write_text(f"""out: {base / 'exp'}
data: {{dataset: toy}}
train: {{model: {tiny_model_dir}, epochs: 1}}
selections: {{ambiguous: {{ambiguous: 0.5}}}}
experiments: [{{name: amb, selection: ambiguous}}]
evaluation: [{{name: validation}}]
""")
    p["badyaml"] = base / "bad.yaml"
    p["badyaml"].write_text("data: [unclosed\n")
    p["adir"] = base / "a_dir"
    yield p
    if old is None:
        os.environ.pop("DATAMAP_DATA_DIR", None)
    else:
        os.environ["DATAMAP_DATA_DIR"] = old


# (case id, argv with {placeholders} from the world fixture, substrings the one-line message must hold)
CASES = [
    # --- train
    ("train-epochs-0", ["train", "--dataset", "toy", "--model", "{model}", "--out", "{base}/t1", "--epochs", "0"], ["--epochs"]),
    ("train-batch-size-0", ["train", "--dataset", "toy", "--model", "{model}", "--out", "{base}/t1", "--batch-size", "0"], ["--batch-size"]),
    ("train-max-length-0", ["train", "--dataset", "toy", "--model", "{model}", "--out", "{base}/t1", "--max-length", "0"], ["--max-length"]),
    ("train-lr-negative", ["train", "--dataset", "toy", "--model", "{model}", "--out", "{base}/t1", "--lr", "-1"], ["--lr"]),
    ("train-existing-run", ["train", "--dataset", "toy", "--model", "{model}", "--out", "{run}"], ["--overwrite"]),
    ("train-missing-dataset", ["train", "--dataset", "{base}/nope.csv", "--model", "{model}", "--out", "{base}/t1"], ["nope"]),
    ("train-missing-subset", ["train", "--dataset", "toy", "--model", "{model}", "--out", "{base}/t1", "--subset", "{base}/nope.json"], ["nope.json"]),
    # --- metrics
    ("metrics-nan-logits", ["metrics", "{nan}"], ["dynamics.parquet", "non-finite", "epoch 1"]),
    ("metrics-inf-logits", ["metrics", "{inf}"], ["dynamics.parquet", "non-finite", "epoch 1"]),
    ("metrics-3-names-2-classes", ["metrics", "{labels3}"], ["labels.json", "3 label names", "2 classes"]),
    ("metrics-other-dataset", ["metrics", "{otherdata}"], ["data.parquet", "ids"]),
    ("metrics-truncated-dynamics", ["metrics", "{trunc}"], ["dynamics.parquet"]),
    ("metrics-broken-labels-json", ["metrics", "{badlabels}"], ["labels.json"]),
    ("metrics-fraction-0", ["metrics", "{run}", "--fraction", "0"], ["--fraction"]),
    ("metrics-fraction-1.5", ["metrics", "{run}", "--fraction", "1.5"], ["--fraction"]),
    ("metrics-burn-out-0", ["metrics", "{run}", "--burn-out", "0"], ["--burn-out"]),
    ("metrics-burn-out-99", ["metrics", "{run}", "--burn-out", "99"], ["--burn-out"]),
    ("metrics-entropy-epoch-9", ["metrics", "{run}", "--entropy-epoch", "9"], ["--entropy-epoch"]),
    ("metrics-no-run", ["metrics", "{base}/nope"], ["nope", "not found"]),
    # --- plot
    ("plot-max-points-0", ["plot", "{run}", "--max-points", "0", "--overwrite"], ["--max-points"]),
    ("plot-max-points-negative-html", ["plot", "{run}", "--html", "--max-points", "-1", "--overwrite"], ["--max-points"]),
    ("plot-truncated-metrics", ["plot", "{trunc}"], ["metrics.parquet"]),
    ("plot-truncated-metrics-html", ["plot", "{trunc}", "--html"], ["metrics.parquet"]),
    ("plot-out-is-dir", ["plot", "{run}", "--out", "{adir}", "--overwrite"], ["a_dir", "directory"]),
    ("plot-out-is-dir-html", ["plot", "{run}", "--html", "--out", "{adir}", "--overwrite"], ["a_dir", "directory"]),
    ("plot-existing-png", ["plot", "{run}"], ["map.png", "--overwrite"]),
    ("plot-existing-html", ["plot", "{run}", "--html"], ["map.html", "--overwrite"]),
    ("plot-existing-out", ["plot", "{run}", "--out", "{afile}"], ["scores.csv", "--overwrite"]),
    ("plot-xy-bogus", ["plot", "{run}", "--html", "--xy", "bogus", "--out", "{base}/m.html"], ["--xy"]),
    ("plot-color-by-bogus", ["plot", "{run}", "--html", "--color-by", "bogus", "--out", "{base}/m.html"], ["--color-by"]),
    ("plot-xy-without-html", ["plot", "{run}", "--xy", "embedding", "--out", "{base}/m.png"], ["--html"]),
    ("plot-no-embeddings", ["plot", "{nometrics}", "--html", "--xy", "embedding"], ["metrics.parquet"]),
    ("plot-no-metrics", ["plot", "{nometrics}"], ["metrics.parquet"]),
    ("plot-projection-bogus", ["plot", "{run}", "--html", "--xy", "embedding", "--projection", "bogus", "--out", "{base}/m.html"], ["--projection"]),
    # --- report
    ("report-truncated-metrics", ["report", "{trunc}"], ["metrics.parquet"]),
    ("report-out-is-dir", ["report", "{run}", "--out", "{adir}", "--overwrite"], ["a_dir", "directory"]),
    ("report-existing", ["report", "{run}"], ["report.html", "--overwrite"]),
    ("report-odd-eval-types", ["report", "{oddeval}"], ["odd.json", "accuracy"]),
    ("report-odd-per-class", ["report", "{odd_per_class}"], ["odd.json", "'per_class'"]),
    ("report-odd-confusion", ["report", "{odd_confusion}"], ["odd.json", "'confusion[0][0]'", "'a'"]),
    ("report-odd-label-names", ["report", "{odd_label_names}"], ["odd.json", "'label_names'"]),
    ("report-eval-not-object", ["report", "{listeval}"], ["odd.json", "object"]),
    ("report-eval-bad-json", ["report", "{badjson}"], ["badjson"]),
    ("report-no-run", ["report", "{base}/nope"], ["nope"]),
    ("report-no-metrics", ["report", "{nometrics}"], ["metrics.parquet"]),
    # --- compare
    ("compare-csv-is-dir", ["compare", "{run}", "--csv", "{adir}", "--overwrite"], ["a_dir", "directory"]),
    ("compare-json-is-dir", ["compare", "{run}", "--json", "{adir}", "--overwrite"], ["a_dir", "directory"]),
    ("compare-csv-existing", ["compare", "{run}", "--csv", "{afile}"], ["scores.csv", "--overwrite"]),
    ("compare-json-existing", ["compare", "{run}", "--json", "{base}/scores.json"], ["scores.json", "--overwrite"]),
    ("compare-odd-eval-types", ["compare", "{run}", "{oddeval}"], ["odd.json", "accuracy"]),
    ("compare-odd-n", ["compare", "{odd_n}"], ["odd.json", "'n' must be a number"]),
    ("compare-odd-per-class", ["compare", "{run}", "{odd_per_class}"], ["odd.json", "'per_class'"]),
    ("compare-eval-not-object", ["compare", "{listeval}"], ["odd.json", "object"]),
    ("compare-eval-bad-json", ["compare", "{badjson}"], ["odd.json", "JSON"]),
    ("compare-no-eval", ["compare", "{nometrics}"], ["eval"]),
    ("compare-unknown-set", ["compare", "{run}", "--set", "nosuch"], ["nosuch"]),
    ("compare-unknown-metric", ["compare", "{run}", "--metric", "nosuch"], ["nosuch"]),
    ("compare-no-run", ["compare", "{base}/nope"], ["nope"]),
    # --- select
    ("select-where-typo", ["select", "{run}", "--out", "s1", "--where", "region==ambigous"],
     ["region==ambigous", "no example has region 'ambigous'", "did you mean 'ambiguous'"]),
    ("select-where-unknown-class", ["select", "{run}", "--out", "s1", "--where", "gold==neutral"], ["gold==neutral", "neutral"]),
    ("select-where-not-number", ["select", "{run}", "--out", "s1", "--where", "confidence<abc"], ["confidence<abc"]),
    ("select-where-unknown-column", ["select", "{run}", "--out", "s1", "--where", "nosuch<1"], ["nosuch"]),
    ("select-where-unparsable", ["select", "{run}", "--out", "s1", "--where", "confidence"], ["confidence"]),
    ("select-name-dotdot-slash", ["select", "{run}", "--out", "../x", "--ambiguous", "0.1"], ["../x"]),
    ("select-name-empty", ["select", "{run}", "--out", "", "--ambiguous", "0.1"], ["name"]),
    ("select-name-dotdot", ["select", "{run}", "--out", "..", "--ambiguous", "0.1"], [".."]),
    ("select-existing-name", ["select", "{run}", "--out", "amb", "--ambiguous", "0.1"], ["amb.json", "--overwrite"]),
    ("select-csv-dataset-escape", ["select", "{run}", "--out", "s1", "--ambiguous", "0.1", "--csv", "--dataset", "../../../x"],
     ["--dataset", "../../../x"]),
    ("select-dataset-slash", ["select", "{run}", "--out", "s1", "--ambiguous", "0.1", "--csv", "--dataset", "a/b"], ["a/b"]),
    ("select-ambiguous-1.5", ["select", "{run}", "--out", "s1", "--ambiguous", "1.5"], ["ambiguous"]),
    ("select-ambiguous-negative", ["select", "{run}", "--out", "s1", "--ambiguous", "-0.1"], ["ambiguous"]),
    ("select-random-2", ["select", "{run}", "--out", "s1", "--random", "2"], ["random"]),
    ("select-data-pct-0", ["select", "{run}", "--out", "s1", "--data-pct", "0"], ["data_pct"]),
    ("select-data-pct-1.5", ["select", "{run}", "--out", "s1", "--data-pct", "1.5"], ["data_pct"]),
    ("select-top-0", ["select", "{run}", "--out", "s1", "--by", "aum", "--top", "0"], ["top"]),
    ("select-top-text", ["select", "{run}", "--out", "s1", "--by", "aum", "--top", "abc"], ["--top"]),
    ("select-by-unknown", ["select", "{run}", "--out", "s1", "--by", "nosuch", "--top", "5"], ["nosuch"]),
    ("select-fractions-without-sweep", ["select", "{run}", "--out", "s1", "--ambiguous", "0.1", "--fractions", "0.1"], ["--sweep"]),
    ("select-sweep-fraction-2", ["select", "{run}", "--out", "s1", "--ambiguous", "0.1", "--sweep", "--fractions", "0.1,2"], ["2"]),
    ("select-cluster-k-0", ["select", "{run}", "--out", "s1", "--clusters", "{run}/clusters.parquet", "--cluster-mode", "first-k",
                            "--cluster-k", "0"], ["k"]),
    ("select-cluster-budget-without-mode", ["select", "{run}", "--out", "s1", "--cluster-budget", "0.1"], ["--cluster-mode"]),
    ("select-truncated-metrics", ["select", "{trunc}", "--out", "s1", "--ambiguous", "0.1"], ["metrics.parquet"]),
    ("select-no-metrics", ["select", "{nometrics}", "--out", "s1", "--ambiguous", "0.1"], ["metrics.parquet"]),
    # --- evaluate
    ("evaluate-name-escape", ["evaluate", "{run}", "--dataset", "toy", "--split", "test", "--name", "../../x"], ["../../x"]),
    ("evaluate-name-empty", ["evaluate", "{run}", "--dataset", "toy", "--split", "test", "--name", ""], ["--name"]),
    ("evaluate-name-slash", ["evaluate", "{run}", "--dataset", "toy", "--split", "test", "--name", "a/b"], ["a/b"]),
    ("evaluate-max-length-0", ["evaluate", "{run}", "--dataset", "toy", "--split", "test", "--name", "e1", "--max-length", "0"], ["--max-length"]),
    ("evaluate-max-length-negative", ["evaluate", "{run}", "--dataset", "toy", "--split", "test", "--name", "e1", "--max-length", "-1"], ["--max-length"]),
    ("evaluate-batch-size-0", ["evaluate", "{run}", "--dataset", "toy", "--split", "test", "--name", "e1", "--batch-size", "0"], ["--batch-size"]),
    ("evaluate-existing", ["evaluate", "{run}", "--dataset", "toy", "--split", "test"], ["toy_test.json", "--overwrite"]),
    ("evaluate-not-a-run", ["evaluate", "{model}", "--dataset", "toy", "--split", "test"], ["--out"]),
    ("evaluate-missing-dataset", ["evaluate", "{run}", "--dataset", "{base}/nope.csv", "--name", "e1"], ["nope"]),
    # --- ensemble
    ("ensemble-name-escape", ["ensemble", "{run}", "{run}", "--dataset", "toy", "--split", "test", "--out", "{base}/ens", "--name", "../../x"], ["../../x"]),
    ("ensemble-max-length-0", ["ensemble", "{run}", "{run}", "--dataset", "toy", "--split", "test", "--out", "{base}/ens", "--max-length", "0"], ["--max-length"]),
    ("ensemble-batch-size-0", ["ensemble", "{run}", "{run}", "--dataset", "toy", "--split", "test", "--out", "{base}/ens", "--batch-size", "0"], ["--batch-size"]),
    ("ensemble-weights-sum", ["ensemble", "{run}", "{run}", "--dataset", "toy", "--split", "test", "--out", "{base}/ens", "--weights", "0.5,0.2"], ["weights"]),
    ("ensemble-weights-text", ["ensemble", "{run}", "{run}", "--dataset", "toy", "--split", "test", "--out", "{base}/ens", "--weights", "a,b"], ["--weights"]),
    ("ensemble-one-run", ["ensemble", "{run}", "--dataset", "toy", "--split", "test", "--out", "{base}/ens"], ["two"]),
    ("ensemble-existing", ["ensemble", "{run}", "{run}", "--dataset", "toy", "--split", "test", "--out", "{run}"], ["toy_test.json", "--overwrite"]),
    # --- embed
    ("embed-batch-size-0", ["embed", "{run}", "--out", "{base}/e.parquet", "--batch-size", "0"], ["--batch-size"]),
    ("embed-max-length-0", ["embed", "{run}", "--out", "{base}/e.parquet", "--max-length", "0"], ["--max-length"]),
    ("embed-max-length-negative", ["embed", "{run}", "--out", "{base}/e.parquet", "--max-length", "-1"], ["--max-length"]),
    ("embed-existing", ["embed", "{run}"], ["embeddings.parquet", "--overwrite"]),
    ("embed-out-is-dir", ["embed", "{run}", "--out", "{adir}", "--overwrite"], ["a_dir", "directory"]),
    ("embed-dtype-bogus", ["embed", "{run}", "--out", "{base}/e.parquet", "--dtype", "float8"], ["--dtype"]),
    ("embed-pooling-bogus", ["embed", "{run}", "--out", "{base}/e.parquet", "--pooling", "bogus"], ["--pooling"]),
    # --- cluster
    ("cluster-k-0", ["cluster", "{run}", "--k", "0", "--out", "{base}/c.parquet"], ["--k"]),
    ("cluster-batch-size-0", ["cluster", "{run}", "--k", "2", "--batch-size", "0", "--out", "{base}/c.parquet"], ["--batch-size"]),
    ("cluster-eps-0", ["cluster", "{run}", "--method", "dbscan", "--eps", "0", "--out", "{base}/c.parquet"], ["--eps"]),
    ("cluster-min-samples-0", ["cluster", "{run}", "--method", "dbscan", "--min-samples", "0", "--out", "{base}/c.parquet"], ["--min-samples"]),
    ("cluster-existing", ["cluster", "{run}", "--k", "2"], ["clusters.parquet", "--overwrite"]),
    ("cluster-method-bogus", ["cluster", "{run}", "--method", "bogus", "--out", "{base}/c.parquet"], ["--method"]),
    ("cluster-out-suffix", ["cluster", "{run}", "--k", "2", "--out", "{base}/c.csv"], [".parquet"]),
    # --- run (an experiment file)
    ("run-missing-config", ["run", "{base}/nope.yaml"], ["nope.yaml: not found"]),
    ("run-bad-yaml", ["run", "{badyaml}"], ["bad.yaml: not valid YAML"]),
    ("run-unknown-selection", ["run", "{expfile}", "experiments[0].selection=ambigous"],
     ["experiments[0].selection: no selection named 'ambigous' (did you mean 'ambiguous'?)"]),
    ("run-train-out-of-range", ["run", "{expfile}", "train.epochs=0"], ["train.epochs: must be >= 1, got 0"]),
    ("run-override-syntax", ["run", "{expfile}", "train.epochs"], ["expected key.path=value"]),
    ("run-force-unknown", ["run", "{expfile}", "--force", "nope", "--dry-run"], ["--force nope"]),
    ("run-jobs", ["run", "{expfile}", "--jobs", "2"], ["--jobs 2"]),
    # --- import-dynamics
    ("import-existing-run", ["import-dynamics", "{td}", "--out", "{run}"], ["--overwrite"]),
    ("import-gap", ["import-dynamics", "{td_gap}", "--out", "{base}/i1"], ["td_gap", "epoch 1"]),
    ("import-partial-export", ["import-dynamics", "{td_partial}", "--out", "{base}/i1"], ["td_partial", "partial"]),
    ("import-nan", ["import-dynamics", "{td_nan}", "--out", "{base}/i1"], ["dynamics_epoch_1.jsonl:3"]),
    ("import-string-gold", ["import-dynamics", "{td_strgold}", "--out", "{base}/i1"], ["dynamics_epoch_0.jsonl:1", "gold"]),
    ("import-label-names-count", ["import-dynamics", "{td}", "--out", "{base}/i1", "--label-names", "a,b,c"], ["--label-names"]),
    ("import-missing-folder", ["import-dynamics", "{base}/nope", "--out", "{base}/i1"], ["nope"]),
    ("import-empty-folder", ["import-dynamics", "{empty_dir}", "--out", "{base}/i1"], ["empty_dir"]),
    # --- export-dynamics
    ("export-out-is-file", ["export-dynamics", "{run}", "--out", "{afile}"], ["scores.csv"]),
    ("export-out-is-file-overwrite", ["export-dynamics", "{run}", "--out", "{afile}", "--overwrite"], ["scores.csv"]),
    ("export-used-folder", ["export-dynamics", "{run}", "--out", "{exported}"], ["exported", "--overwrite"]),
    ("export-default-existing", ["export-dynamics", "{run}"], ["training_dynamics", "--overwrite"]),
    ("export-nan", ["export-dynamics", "{nan}", "--out", "{base}/ex1"], ["non-finite", "epoch 1"]),
    ("export-no-dynamics", ["export-dynamics", "{oddeval}", "--out", "{base}/ex1"], ["dynamics.parquet"]),
    # --- noise, errors, crossval (label errors)
    ("noise-no-rate", ["noise", "{run}/data.parquet", "--out", "{base}/n.parquet"], ["--rate"]),
    ("noise-bad-kind", ["noise", "{run}/data.parquet", "--kind", "random", "--rate", "0.1", "--out", "{base}/n.parquet"], ["--kind"]),
    ("noise-rate-out-of-range", ["noise", "{run}/data.parquet", "--rate", "1.5", "--out", "{base}/n.parquet"], ["rate must be a fraction"]),
    ("noise-out-suffix", ["noise", "{run}/data.parquet", "--rate", "0.1", "--out", "{base}/n.txt"], ["--out", "n.txt"]),
    ("noise-bad-mapping", ["noise", "{run}/data.parquet", "--rate", "0.1", "--kind", "pairs", "--mapping", "0-1", "--out", "{base}/n.parquet"], ["--mapping"]),
    ("errors-bad-method", ["errors", "{run}", "--method", "best"], ["--method"]),
    ("errors-missing-run", ["errors", "{base}/nope"], ["nope"]),
    ("errors-probs-without-cleanlab", ["errors", "{run}", "--probs", "{afile}"], ["--probs"]),
    ("errors-nan", ["errors", "{nan}"], ["non-finite"]),
    ("crossval-missing-config", ["crossval", "{base}/nope.yaml", "--out", "{base}/cv"], ["nope.yaml"]),
    ("crossval-one-fold", ["crossval", "{run}/config.yaml", "--folds", "1", "--out", "{base}/cv"], ["--folds"]),
    ("crossval-more-folds-than-a-class", ["crossval", "{run}/config.yaml", "--folds", "40", "--out", "{base}/cv"],
     ["--folds 40: class", "has only", "examples"]),
]


@pytest.mark.parametrize("argv,expected", [pytest.param(a, e, id=i) for i, a, e in CASES])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(world, argv, expected, capsys, monkeypatch):
    monkeypatch.chdir(world["root"])
    args = [a.format(**world) for a in argv]
    before = snapshot(world["root"])
    capsys.readouterr()
    code = call(*args)
    err = capsys.readouterr().err
    assert code == 2, f"exit {code}; stderr: {err}"
    assert "Traceback" not in err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    for part in expected:
        assert part.format(**world) in err, f"{part!r} not in {err!r}"
    assert snapshot(world["root"]) == before, "files were created, changed or removed"


def test_there_are_enough_cases_over_every_command():
    from test_cli import COMMANDS

    assert len(CASES) >= 80 and len({i for i, _, _ in CASES}) == len(CASES)
    assert {a[0] for _, a, _ in CASES} == set(COMMANDS)


def test_label_names_that_look_like_rich_markup_are_shown_verbatim(world, tmp_path, capsys):
    run = _copy_run(world["run"], tmp_path / "brackets")
    (run / "labels.json").write_text(json.dumps({"names": ["[/]", "[positive]"]}))
    ok("metrics", run)
    out = capsys.readouterr().out
    assert "[/]" in out and "[positive]" in out
    ok("select", run, "--out", "s", "--ambiguous", "0.2", "--stratify")
    out = capsys.readouterr().out
    assert "[/] " in out and "[positive] " in out
    ok("select", run, "--out", "g", "--where", "gold==[positive]")
    assert set(pd.read_parquet(run / "selections" / "g.parquet")["label"]) == {1}


def test_overwrite_replaces_and_export_is_whole(world, tmp_path):
    run = _copy_run(world["run"], tmp_path / "r", files=("config.yaml", "data.parquet", "labels.json", "dynamics.parquet",
                                                          "metrics.parquet"))
    ok("plot", run)
    assert call("plot", run) == 2
    ok("plot", run, "--overwrite")
    out = tmp_path / "td"
    ok("export-dynamics", run, "--out", out)
    (out / "dynamics_epoch_5.jsonl").write_text("old")
    ok("export-dynamics", run, "--out", out, "--overwrite")
    assert sorted(p.name for p in out.iterdir()) == ["dynamics_epoch_0.jsonl", "dynamics_epoch_1.jsonl"]
    (out / "stray.txt").write_text("mine")  # a file export-dynamics did not write is never deleted
    assert call("export-dynamics", run, "--out", out, "--overwrite") == 2 and (out / "stray.txt").read_text() == "mine"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary folder left
    imported = tmp_path / "imp"
    ok("import-dynamics", out, "--out", imported)
    ok("metrics", imported)
    assert call("import-dynamics", out, "--out", imported) == 2
    ok("import-dynamics", out, "--out", imported, "--overwrite")
    assert not (imported / "metrics.parquet").exists()  # the old run's metrics went with its dynamics
    np.testing.assert_array_equal(read_dynamics(imported / "dynamics.parquet").logits,
                                  read_dynamics(run / "dynamics.parquet").logits)
