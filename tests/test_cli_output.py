"""What the commands print: --json summaries that parse, --quiet, one log line per event, progress as
plain lines when stderr is not a terminal, and the class balance of selections."""

from __future__ import annotations

import json
import logging
import sys

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from datamap.cli import _quiet_first, app, main
from datamap.io.store import Dynamics, write_dynamics
from selection_table import make_run

runner = CliRunner()


@pytest.fixture(autouse=True)
def loud():
    from datamap.console import set_quiet

    set_quiet(False)
    yield
    set_quiet(False)


@pytest.fixture
def dyn_run(tmp_path):
    rng = np.random.default_rng(0)
    n, e, c = 12, 3, 2
    ids = np.array([f"x{i}" for i in range(n)], dtype=object)
    gold = np.array([0, 1] * 6)
    write_dynamics(tmp_path / "dynamics.parquet", Dynamics(ids, rng.normal(size=(n, e, c)).astype(np.float32), gold, np.arange(e)))
    return tmp_path


def test_metrics_json(dyn_run):
    r = runner.invoke(app, ["metrics", str(dyn_run), "--json"])
    assert r.exit_code == 0, r.output
    obj = json.loads(r.stdout)  # stdout is the JSON alone: no table, no "wrote" line
    assert obj["n_examples"] == 12 and obj["label_names"] == ["0", "1"]
    assert sum(v["total"] for v in obj["regions"].values()) == 12
    assert obj["files"][0].endswith("metrics.parquet")


def test_select_json_reports_class_balance_and_warns(tmp_path, caplog):
    run, _ = make_run(tmp_path)
    # the two most confident examples (e0, e8) are both negatives
    with caplog.at_level(logging.WARNING):
        r = runner.invoke(app, ["select", str(run), "--out", "top", "--by", "confidence", "--top", "0.2", "--json"])
    assert r.exit_code == 0, r.output
    sel = json.loads(r.stdout)["selections"][0]
    assert sel["name"] == "top" and sel["n"] == 2 and sel["n_total"] == 10 and sel["per_class"] == {"neg": 2, "pos": 0}
    assert sel["balance"] == {"check": "selection", "ok": False,
                              "message": "selection top: neg 2 (100%), pos 0 (0%); largest/smallest inf, training set "
                                         "1.00 (warns above 1.50 = 1.5 x the training set's)"}
    assert sel["files"]["json"].endswith("top.json")
    assert "selection top: neg 2 (100%)" in caplog.text and "pass --stratify" in caplog.text

    caplog.clear()
    with caplog.at_level(logging.WARNING):
        r = runner.invoke(app, ["select", str(run), "--out", "strat", "--by", "confidence", "--top", "0.2", "--stratify"])
    assert r.exit_code == 0, r.output
    assert "per class: neg 1 (50%), pos 1 (50%)" in r.stdout and "UNBALANCED" not in r.stdout and not caplog.text
    r = runner.invoke(app, ["select", str(run), "--out", "top2", "--by", "confidence", "--top", "0.2"])
    assert "per class: neg 2 (100%), pos 0 (0%) [UNBALANCED]" in r.stdout


def test_compare_json_to_stdout(tmp_path):
    for name, acc in (("a", 0.5), ("b", 0.75)):
        (tmp_path / name / "eval").mkdir(parents=True)
        (tmp_path / name / "eval" / "validation.json").write_text(json.dumps({"accuracy": acc, "f1_macro": float("nan")}))
    r = runner.invoke(app, ["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--json", "-"])
    assert r.exit_code == 0, r.output
    obj = json.loads(r.stdout)
    assert obj["columns"] == ["a", "b"]
    assert obj["rows"][0] == {"set": "validation", "metric": "accuracy", "a": 0.5, "b": 0.75}
    assert obj["rows"][1]["a"] is None  # NaN is printed as null: strict JSON
    assert not (tmp_path / "-").exists()


def test_quiet_anywhere_on_the_line(dyn_run, capsys):
    assert _quiet_first(["metrics", "R", "--quiet"]) == ["--quiet", "metrics", "R"]
    assert _quiet_first(["select", "-q", "R", "--", "--quiet"]) == ["-q", "select", "R", "--", "--quiet"]
    with pytest.raises(SystemExit) as exc:
        main(["metrics", str(dyn_run), "--quiet"])
    assert exc.value.code == 0
    assert capsys.readouterr().out == ""
    with pytest.raises(SystemExit):
        main(["metrics", str(dyn_run)])
    assert "wrote" in capsys.readouterr().out


def test_a_library_log_event_is_one_line():
    """datasets and huggingface_hub bring their own handler: their hub retries must not print twice."""
    import subprocess

    from conftest import cli_env

    code = ("import logging, huggingface_hub, datasets\n"
            "from datamap.console import configure_logging\n"
            "configure_logging()\n"
            "logging.getLogger('huggingface_hub.utils._http').warning('Retrying in 1s [Retry 1/5].')\n"
            "logging.getLogger('datasets.load').warning('from datasets')\n"
            "logging.getLogger('datamap.x').warning('own event')\n")
    err = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=cli_env()).stderr
    assert err.count("Retrying in 1s") == 1 and err.count("from datasets") == 1, err
    assert "warning: own event" in err


def test_plain_progress_lines_when_not_a_terminal(capsys, monkeypatch):
    from datamap.console import Progress, progress

    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    assert list(progress(range(3), "recording", unit="batches")) == [0, 1, 2]
    err = capsys.readouterr().err
    assert "\r" not in err and err.startswith("recording: 3/3 batches (100%)")
    bar = Progress(4, "epoch 1/2", unit="batches", interval=0)  # a line at every step
    for _ in range(4):
        bar.set_postfix(loss="0.6931")
        bar.update(1)
    bar.close()
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("epoch 1/2: 1/4 batches (25%), loss 0.6931") and len(lines) == 5


def test_where_takes_class_names(tmp_path):
    run, _ = make_run(tmp_path)
    r = runner.invoke(app, ["select", str(run), "--out", "pos", "--where", "gold==pos", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["selections"][0]["per_class"] == {"neg": 0, "pos": 5}
    from datamap.core.selection import filter_mask

    cols = {"gold": np.array([0, 1, 1])}
    assert filter_mask(cols, ["gold==NaN"], ["NaN", "inf"]).tolist() == [True, False, False]  # a class, not a float


def test_csv_export_keeps_the_dataset_column_names(tmp_path):
    import pandas as pd

    from conftest import make_sentiment_frame
    from datamap.io.rundir import RunDir
    from datamap.training.config import TrainConfig
    from datamap.training.loop import load_data

    raw = make_sentiment_frame(20, pairs=True).drop(columns="label_name").assign(guid=[f"g{i}" for i in range(20)])
    raw.to_csv(tmp_path / "nli.csv", index=False)
    frame, names, _ = load_data(TrainConfig(dataset=str(tmp_path / "nli.csv"), limit=10, eval_split=None))
    rd = RunDir(tmp_path / "run")
    rd.start({}, frame, names)
    assert json.loads(rd.labels.read_text())["source_columns"] == {"text": "premise", "text_pair": "hypothesis",
                                                                   "label": "label", "id": "guid"}
    pd.DataFrame({"id": frame["id"], "gold": frame["label"], "confidence": np.linspace(0, 1, 10),
                  "region": ["easy"] * 10}).to_parquet(rd.metrics)
    r = runner.invoke(app, ["select", str(rd.root), "--out", "top", "--by", "confidence", "--top", "4", "--csv",
                            "--dataset", "nli"])
    assert r.exit_code == 0, r.output
    csv = pd.read_csv(rd.selections / "nli_top.csv")
    assert list(csv.columns) == ["guid", "premise", "hypothesis", "label", "label_name"]
    assert csv["premise"].tolist() == frame["text"].tail(4).tolist()[::-1]  # highest confidence first
    assert list(pd.read_parquet(rd.selections / "top.parquet").columns)[:3] == ["id", "text", "text_pair"]


def test_metrics_warns_below_three_epochs(tmp_path, caplog):
    from datamap.stages.measure import measure_run

    rng = np.random.default_rng(1)
    ids = np.array([f"x{i}" for i in range(6)], dtype=object)
    write_dynamics(tmp_path / "dynamics.parquet", Dynamics(ids, rng.normal(size=(6, 2, 2)).astype(np.float32),
                                                           np.array([0, 1] * 3), np.arange(2)))
    with caplog.at_level(logging.WARNING):
        measure_run(tmp_path)
    assert "2 epochs recorded: variability needs at least 3" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        measure_run(tmp_path, burn_out=1)
    assert "1 epoch recorded" in caplog.text


def test_every_command_that_prints_a_result_has_json():
    names = [c.name or c.callback.__name__ for c in app.registered_commands]
    assert len(names) >= 18
    for name in names:
        if name == "run":  # prints a plan and progress; its results are files (results.parquet, summary.md)
            continue
        r = runner.invoke(app, [name, "--help"], terminal_width=200)
        assert r.exit_code == 0 and "--json" in r.output, name


def _learnt_run(tmp_path):
    """dynamics + data + labels of 40 examples; 4 of them look mislabeled (AUM < 0)."""
    import json

    n, e = 40, 3
    gold = np.arange(n) % 2
    logits = np.zeros((n, e, 2), dtype=np.float32)
    logits[np.arange(n), :, gold] = 3.0
    logits[:4, :, :] = logits[:4, :, ::-1]  # x0..x3: the other class wins
    ids = np.array([f"x{i}" for i in range(n)], dtype=object)
    write_dynamics(tmp_path / "dynamics.parquet", Dynamics(ids, logits, gold, np.arange(e)))
    pd.DataFrame({"id": ids, "text": [f"text {i}" for i in range(n)], "label": gold,
                  "label_name": np.array(["neg", "pos"])[gold]}).to_parquet(tmp_path / "data.parquet")
    (tmp_path / "labels.json").write_text(json.dumps({"names": ["neg", "pos"]}))
    return tmp_path


def test_errors_and_noise_obey_quiet_and_json(tmp_path, capsys):
    import json

    run = _learnt_run(tmp_path / "run")
    with pytest.raises(SystemExit) as exc:
        main(["errors", str(run), "--cut", "top:4", "--quiet"])
    assert exc.value.code == 0 and capsys.readouterr().out == ""
    with pytest.raises(SystemExit) as exc:
        main(["errors", str(run), "--cut", "top:4", "--overwrite", "--json"])
    out = json.loads(capsys.readouterr().out)  # stdout is the JSON alone
    assert out["n_flagged"] == 4 and [r["id"] for r in out["top"][:4]] == ["x0", "x1", "x2", "x3"]
    assert out["files"] == [str(run / "label_issues.parquet")]

    data = tmp_path / "d.csv"
    pd.DataFrame({"text": [f"t{i}" for i in range(30)], "label": np.arange(30) % 3}).to_csv(data, index=False)
    with pytest.raises(SystemExit) as exc:
        main(["noise", str(data), "--rate", "0.2", "--out", str(tmp_path / "n.csv"), "--quiet"])
    assert exc.value.code == 0 and capsys.readouterr().out == ""
    with pytest.raises(SystemExit) as exc:
        main(["noise", str(data), "--rate", "0.2", "--out", str(tmp_path / "n.csv"), "--overwrite", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert out["n_flipped"] == 6 and sum(c["flipped"] for c in out["per_class"].values()) == 6
