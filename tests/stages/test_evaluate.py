"""Acting on the map end to end: select -> retrain on the subset -> evaluate (in-domain, HANS) -> ensemble -> compare."""

import json
from pathlib import Path
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import make_mirror, cli_env, make_sentiment_frame

pytestmark = pytest.mark.slow


def run_cli(*args, **env):
    return subprocess.run([sys.executable, "-m", "datamap", *map(str, args)], capture_output=True, text=True, env=cli_env(**env))


@pytest.fixture(scope="module")
def base_run(tmp_path_factory, tiny_model_dir):
    root = tmp_path_factory.mktemp("act")
    mirror = make_mirror(root, 60, 20, 24)
    run = root / "base"
    r = run_cli("train", "--dataset", "toy", "--model", tiny_model_dir, "--out", run, "--epochs", "2", "--batch-size", "8",
                "--lr", "5e-4", "--eval-dataset", "toy:test", DATAMAP_DATA_DIR=mirror)
    assert r.returncode == 0, r.stderr
    assert run_cli("metrics", run).returncode == 0
    return run, mirror


def test_train_writes_eval_files(base_run):
    run, _ = base_run
    for name in ("validation", "toy_test"):
        scores = json.loads((run / "eval" / f"{name}.json").read_text())
        assert scores["label_names"] == ["neg", "pos"] and 0 <= scores["accuracy"] <= 1 and "ece" in scores
        preds = pd.read_parquet(run / "eval" / f"{name}.parquet")
        assert len(preds) == scores["n"] and (preds["pred"] == np.stack(preds["logits"]).argmax(1)).all()
        assert scores["accuracy"] == pytest.approx((preds["pred"] == preds["gold"]).mean())
    hist = json.loads((run / "history.json").read_text())["epochs"]
    assert set(hist[-1]["eval"]) == {"validation", "toy_test"}


def test_select_retrain_on_exactly_those_ids(base_run, tmp_path):
    run, mirror = base_run
    r = run_cli("select", run, "--out", "amb", "--ambiguous", "0.33", "--random", "0.1", "--seed", "1")
    assert r.returncode == 0, r.stderr
    sel = json.loads((run / "selections" / "amb.json").read_text())
    assert len(sel["ids"]) == int(0.33 * 60) + int(0.1 * 60)
    out = tmp_path / "retrained"
    r = run_cli("train", "--dataset", "toy", "--model", run / "model", "--out", out, "--epochs", "1", "--batch-size", "8",
                "--subset", run / "selections" / "amb.json", "--freeze-base", DATAMAP_DATA_DIR=mirror)
    assert r.returncode == 0, r.stderr
    assert sorted(pd.read_parquet(out / "data.parquet")["id"]) == sorted(sel["ids"])
    dyn = pd.read_parquet(out / "dynamics.parquet")
    assert sorted(dyn["id"]) == sorted(sel["ids"])
    # compare both runs side by side
    r = run_cli("compare", run, out)
    assert r.returncode == 0, r.stderr
    assert "accuracy" in r.stdout and "retrained" in r.stdout


def test_freeze_base_changes_only_the_head(base_run, tmp_path):
    from safetensors.numpy import load_file

    run, mirror = base_run
    out = tmp_path / "frozen"
    r = run_cli("train", "--dataset", "toy", "--model", run / "model", "--out", out, "--epochs", "1", "--batch-size", "8",
                "--lr", "1e-2", "--freeze-base", "--eval-split", "none", "--record", "none", DATAMAP_DATA_DIR=mirror)
    assert r.returncode == 0, r.stderr
    before, after = load_file(run / "model" / "model.safetensors"), load_file(out / "model" / "model.safetensors")
    changed = {k for k in before if not np.array_equal(before[k], after[k])}
    assert changed and all(k.startswith("classifier.") for k in changed), changed


def test_bad_selection_inputs(base_run, tmp_path):
    run, mirror = base_run
    r = run_cli("select", run, "--out", "x", "--ambiguous", "0.6", "--easy", "0.5")
    assert r.returncode == 2 and r.stderr.startswith("error: ") and "sum" in r.stderr
    r = run_cli("select", run, "--out", "x", "--by", "nonsense", "--top", "0.1")
    assert r.returncode == 2 and "nonsense" in r.stderr
    r = run_cli("select", run, "--out", "x", "--easy", "-0.1")
    assert r.returncode == 2
    bogus = tmp_path / "bogus.json"
    bogus.write_text(json.dumps({"name": "b", "ids": ["not-an-id"]}))
    r = run_cli("train", "--dataset", "toy", "--model", run / "model", "--out", tmp_path / "r", "--subset", bogus,
                DATAMAP_DATA_DIR=mirror)
    assert r.returncode == 2 and "not-an-id" in r.stderr and not (tmp_path / "r").exists()


def test_evaluate_and_label_mismatch(base_run, tmp_path):
    run, mirror = base_run
    r = run_cli("evaluate", run, "--dataset", "toy", "--split", "test", "--name", "again", DATAMAP_DATA_DIR=mirror)
    assert r.returncode == 0, r.stderr
    again = json.loads((run / "eval" / "again.json").read_text())
    first = json.loads((run / "eval" / "toy_test.json").read_text())
    assert again["accuracy"] == pytest.approx(first["accuracy"])
    wrong = tmp_path / "wrong.csv"
    pd.DataFrame({"text": ["a b", "c d"], "label": ["good", "bad"]}).to_csv(wrong, index=False)
    r = run_cli("evaluate", run, "--dataset", wrong)
    assert r.returncode == 2 and "unknown label" in r.stderr and "neg, pos" in r.stderr


def test_ensemble_weight_one_equals_model_a(base_run, tmp_path):
    run, mirror = base_run
    other = tmp_path / "other"
    r = run_cli("train", "--dataset", "toy", "--model", run / "model", "--out", other, "--epochs", "1", "--batch-size", "8",
                "--lr", "1e-3", "--eval-split", "none", "--record", "none", "--seed", "7", DATAMAP_DATA_DIR=mirror)
    assert r.returncode == 0, r.stderr
    r = run_cli("ensemble", run, other, "--weights", "1,0", "--dataset", "toy", "--split", "test", "--out", tmp_path / "ens",
                DATAMAP_DATA_DIR=mirror)
    assert r.returncode == 0, r.stderr
    ens = pd.read_parquet(tmp_path / "ens" / "eval" / "toy_test.parquet")
    a = pd.read_parquet(run / "eval" / "toy_test.parquet")
    assert np.allclose(np.stack(ens["logits"]), np.stack(a["logits"]), atol=1e-6)
    r = run_cli("ensemble", run, other, "--weights", "0.7,0.7", "--dataset", "toy", "--split", "test", "--out", tmp_path / "e2",
                DATAMAP_DATA_DIR=mirror)
    assert r.returncode == 2 and "sum" in r.stderr


def test_ensemble_json_parses_and_matches_the_saved_scores(base_run, tmp_path):
    run, mirror = base_run
    r = run_cli("evaluate", run, "--dataset", "toy", "--split", "test", "--name", "single", "--json", DATAMAP_DATA_DIR=mirror)
    assert r.returncode == 0, r.stderr
    single = json.loads(r.stdout)
    # a model ensembled with itself is that model: the same accuracy, now printed as JSON alone on stdout
    r = run_cli("ensemble", run, run, "--weights", "0.5,0.5", "--dataset", "toy", "--split", "test", "--name", "js",
                "--out", tmp_path / "ens", "--json", DATAMAP_DATA_DIR=mirror)
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    saved = json.loads((tmp_path / "ens" / "eval" / "js.json").read_text())
    assert obj["accuracy"] == saved["accuracy"] == pytest.approx(single["accuracy"]) and obj["n"] == single["n"] == 24
    assert obj["file"].endswith("js.json") and Path(obj["file"]).is_file()


def test_hans_evaluation_of_an_nli_model(tiny_model_dir, tmp_path):
    rng = np.random.default_rng(0)
    words = ["the", "doctor", "saw", "lawyer", "artist", "paid", "student", "near"]
    rows = [{"premise": " ".join(rng.choice(words, 5)), "hypothesis": " ".join(rng.choice(words, 3)),
             "label": int(i % 3), "label_name": ["entailment", "neutral", "contradiction"][i % 3]} for i in range(30)]
    nli = tmp_path / "nli.csv"
    pd.DataFrame(rows).to_csv(nli, index=False)
    hans = tmp_path / "hans.csv"
    heur = ["lexical_overlap", "subsequence", "constituent"]
    pd.DataFrame([{"premise": r["premise"], "hypothesis": r["hypothesis"], "label": i % 2,
                   "label_name": ["entailment", "non-entailment"][i % 2], "heuristic": heur[i % 3],
                   "subcase": f"{heur[i % 3]}_{i % 2}"} for i, r in enumerate(rows[:24])]).to_csv(hans, index=False)
    run = tmp_path / "nli-run"
    r = run_cli("train", "--dataset", nli, "--model", tiny_model_dir, "--out", run, "--epochs", "1", "--batch-size", "8",
                "--eval-split", "none", "--eval-dataset", hans)
    assert r.returncode == 0, r.stderr
    scores = json.loads((run / "eval" / "hans.json").read_text())
    preds = pd.read_parquet(run / "eval" / "hans.parquet")
    assert scores["kind"] == "hans" and set(scores["heuristics"]) == set(heur)
    collapsed = preds["pred_collapsed"].to_numpy()
    assert set(collapsed) <= {"entailment", "non-entailment"}
    gold = preds["gold_name"].to_numpy()
    assert scores["accuracy"] == pytest.approx((collapsed == gold).mean())
    lo = preds.assign(h=[heur[i % 3] for i in range(24)])
    sel = (lo["h"] == "lexical_overlap") & (lo["gold_name"] == "entailment")
    assert scores["heuristics"]["lexical_overlap"]["entailment"]["accuracy"] == pytest.approx((collapsed[sel] == "entailment").mean())
    # a sentiment model cannot be scored on HANS
    sent = tmp_path / "sent.csv"
    make_sentiment_frame(20).to_csv(sent, index=False)
    r = run_cli("train", "--dataset", sent, "--model", tiny_model_dir, "--out", tmp_path / "s", "--epochs", "1",
                "--eval-split", "none", "--eval-dataset", hans)
    assert r.returncode == 2 and "entailment" in r.stderr


def test_evaluate_json_parses(base_run):
    run, mirror = base_run
    r = run_cli("evaluate", run, "--dataset", "toy", "--split", "test", "--name", "js", "--json", DATAMAP_DATA_DIR=mirror)
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)  # stdout is the JSON alone
    saved = json.loads((run / "eval" / "js.json").read_text())
    assert obj["accuracy"] == saved["accuracy"] and obj["n"] == 24 and obj["file"].endswith("js.json")


def test_evaluating_the_training_split_is_warned_and_named(base_run):
    run, mirror = base_run
    r = run_cli("evaluate", run, "--dataset", "toy", "--split", "train", DATAMAP_DATA_DIR=mirror)
    assert r.returncode == 0, r.stderr
    assert "EVALUATING ON THE TRAINING DATA: split 'train' of toy" in r.stderr
    assert (run / "eval" / "toy_train-same-as-train.json").is_file() and not (run / "eval" / "toy_train.json").exists()
