"""datamap run with sft runs (issue 25): a miniature of examples/sft_s2l.yaml on a tiny GPT-2 built here (cartography
with token-loss trajectories, trajectory clusters, an S2L selection and a random one of the same size, retraining
with steps_like), and the config checks that are particular to sft experiments."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "training"))
from test_sft import arithmetic, make_model, make_tokenizer  # noqa: E402

from datamap.errors import DatamapError  # noqa: E402
from datamap.experiment.config import SFT_SUMMARY_METRICS, load_config, train_config  # noqa: E402
from datamap.experiment.runner import plan, run_experiment  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SEEDS = [0, 1]
K = 5


def write_config(root: Path, **changes) -> Path:
    cfg = {
        "name": "mini_s2l", "out": str(root / "out"),
        "data": {"dataset": str(root / "qa")},
        "train": {"task": "sft", "model": str(root / "lm"), "epochs": 3, "batch_size": 8, "lr": 0.003,
                  "warmup_ratio": 0.0, "max_length": 32, "max_new_tokens": 4, "checkpoint": False, "save_model": False},
        "cartography": {"maps": ["png"], "clusters": {"on": "trajectories", "method": "kmeans", "k": K}},
        "selections": {"s2l30": {"cluster": {"mode": "s2l", "budget": 0.3}}, "rand30": {"random_like": "s2l30"}},
        "experiments": [{"name": "s2l30", "selection": "s2l30", "train": {"steps_like": "cartography"}},
                        {"name": "rand30", "selection": "rand30", "train": {"steps_like": "cartography"}}],
        "seeds": SEEDS,
        "evaluation": [{"name": "validation"}],
    }
    cfg.update(changes)
    path = root / "exp.yaml"
    text = yaml.safe_dump(cfg, sort_keys=False).replace("'on':", "on:")  # written unquoted, as in the example
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    """A dataset folder (train: 60 rows, validation: 20 other rows) and a tiny GPT-2 with its tokenizer."""
    root = tmp_path_factory.mktemp("sft-exp")
    rows = arithmetic(80, seed=3).drop_duplicates("prompt").reset_index(drop=True)
    (root / "qa").mkdir()
    rows.iloc[:60].to_parquet(root / "qa" / "train.parquet")
    rows.iloc[60:].to_parquet(root / "qa" / "validation.parquet")
    tokenizer = make_tokenizer()
    make_model("gpt2", len(tokenizer)).save_pretrained(root / "lm")
    tokenizer.save_pretrained(root / "lm")
    return root


@pytest.fixture(scope="module")
def finished(inputs) -> tuple[Path, dict]:
    lines: list[str] = []
    result = run_experiment(write_config(inputs), echo=lines.append)
    return inputs / "out", {**result, "lines": lines}


def s2l_counts(sizes: dict[int, int], budget: int) -> dict[int, int]:
    """The S2L rule written out: clusters from the smallest (ties by id), each floor(left / clusters left), small ones whole."""
    out, left = {}, budget
    order = sorted(sizes, key=lambda c: (sizes[c], c))
    for i, c in enumerate(order):
        out[c] = min(sizes[c], left // (len(order) - i))
        left -= out[c]
    return out


def test_sft_config_defaults_and_yaml_on_key(inputs):
    cfg = load_config(write_config(inputs))
    assert cfg.cartography.clusters.on == "trajectories"  # `on:` unquoted is the boolean true in YAML 1.1
    assert cfg.summary_metrics == SFT_SUMMARY_METRICS
    assert load_config(write_config(inputs, summary_metrics=["loss"])).summary_metrics == ["loss"]


def test_sft_config_refuses_classifier_sections(inputs):
    path = write_config(inputs, evaluation=[{"name": "validation", "dataset": "other.parquet"}],
                        ensemble=[{"name": "ens", "members": ["cartography", "s2l30"]}], errors={})
    with pytest.raises(DatamapError) as info:
        load_config(path)
    text = str(info.value)
    assert "evaluation[0].dataset: not for sft runs" in text
    assert "ensemble: not for sft runs" in text and "errors: not for sft runs" in text


def test_sft_subset_keeps_the_data_limit(inputs):
    """The sft loader applies the limit before the hold-out and the subset: a subset run keeps it (same held-out
    rows); a classifier's subset run drops it (its selection was drawn from the limited rows)."""
    cfg = load_config(write_config(inputs, data={"dataset": str(inputs / "qa"), "limit": 40}))
    tc = train_config(cfg, seed=0, out="r", subset="sel.json")
    assert tc.limit == 40 and tc.subset == "sel.json"
    raw = cfg.model_dump(mode="json")
    raw["train"]["task"] = "classify"
    for key in ("max_new_tokens",):
        raw["train"].pop(key)
    classify = type(cfg).model_validate(raw)
    assert train_config(classify, seed=0, out="r", subset="sel.json").limit is None


def test_sft_plan_has_no_embedding_step(inputs):
    cfg = load_config(write_config(inputs))
    p = plan(cfg, inputs / "planned")
    clusters = p.stage("seed0/cartography/clusters")
    assert [o.name for o in clusters.outputs] == ["clusters.parquet"]
    assert p.stage("seed0/s2l30/eval/validation").params == {"written_by": "train"}


@pytest.mark.slow
def test_sft_experiment_end_to_end(finished):
    out, result = finished
    results = pd.read_parquet(out / "results.parquet")
    assert set(results["run"]) == {"cartography", "s2l30", "rand30"}
    for seed in SEEDS:
        sd = out / f"seed{seed}"
        carto = sd / "cartography"
        assert not (carto / "embeddings.parquet").exists()  # trajectories: no embedding step
        clusters = pd.read_parquet(carto / "clusters.parquet")
        data = pd.read_parquet(carto / "data.parquet")
        assert sorted(clusters["id"]) == sorted(data["id"]) and clusters["cluster"].nunique() == K
        # every run's rows of the results table are its eval/validation.json (exact match, token accuracy, loss)
        for run in ("cartography", "s2l30", "rand30"):
            scores = json.loads((sd / run / "eval" / "validation.json").read_text())
            rows = results[(results["seed"] == seed) & (results["run"] == run) & (results["eval_set"] == "validation")]
            got = dict(zip(rows["metric"], rows["value"]))
            assert {"exact_match", "token_accuracy", "loss"} <= set(got)
            for metric in ("exact_match", "token_accuracy", "loss"):
                assert got[metric] == pytest.approx(scores[metric], abs=0)
        # the S2L selection: per cluster, the counts of the S2L rule for floor(0.3 N) examples
        chosen = json.loads((carto / "selections" / "s2l30.json").read_text())
        budget = int(np.floor(0.3 * len(data)))
        assert len(chosen["ids"]) == budget and int(chosen["sizes"]["dataset"]) == len(data)
        label = dict(zip(clusters["id"], clusters["cluster"]))
        sizes = clusters["cluster"].value_counts().to_dict()
        got_counts = pd.Series([label[i] for i in chosen["ids"]]).value_counts().to_dict()
        want = {c: n for c, n in s2l_counts(sizes, budget).items() if n}
        assert got_counts == want
        # random_like: the same size, other rows (a seeded uniform draw)
        rand = json.loads((carto / "selections" / "rand30.json").read_text())
        assert len(rand["ids"]) == budget and set(rand["ids"]) <= set(data["id"])
        assert set(rand["ids"]) != set(chosen["ids"])
        # each retraining run trained on its selection, with the cartography run's number of optimizer steps
        carto_steps = json.loads((carto / "history.json").read_text())["epochs"][-1]["steps"]
        for run, sel in (("s2l30", chosen), ("rand30", rand)):
            assert sorted(pd.read_parquet(sd / run / "data.parquet")["id"]) == sorted(sel["ids"])
            assert json.loads((sd / run / "history.json").read_text())["epochs"][-1]["steps"] == carto_steps
        frac = results[(results["seed"] == seed) & (results["run"] == "s2l30")]["fraction"].iloc[0]
        assert frac == pytest.approx(budget / len(data))
    summary = (out / "summary.md").read_text()
    assert "validation exact_match" in summary.splitlines()[0]
    assert summary.splitlines()[0].index("exact_match") < summary.splitlines()[0].index("token_accuracy")


@pytest.mark.slow
def test_sft_experiment_second_run_skips_everything(finished):
    out, _ = finished
    lines: list[str] = []
    again = run_experiment(Path(out).parent / "exp.yaml", echo=lines.append)
    assert again["ran"] == [] and len(again["skipped"]) == len(finished[1]["ran"])


def test_sft_eval_set_not_written_is_named(inputs, tmp_path):
    """A set name that train did not write stops the run at its check, naming the sets it did write."""
    from datamap.experiment.runner import _sft_eval_check

    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "heldout.json").write_text("{}")
    with pytest.raises(DatamapError, match=r"no eval/validation.json \(it wrote: heldout\)"):
        _sft_eval_check(tmp_path, "validation")()
    _sft_eval_check(tmp_path, "heldout")()
