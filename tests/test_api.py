"""The public Python API: the README's example runs as written, and the functions agree with the stages."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

import datamap
from conftest import REPO, SHARED_DATA


def readme_python_api_example() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("### Python API", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.mark.slow
def test_readme_example_runs(tmp_path, monkeypatch):
    if not (SHARED_DATA / "rotten_tomatoes").is_dir():
        pytest.skip("needs ../shared/data (the local dataset mirror)")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATAMAP_DATA_DIR", str(SHARED_DATA))
    scope: dict = {}
    exec(compile(readme_python_api_example(), "README.md", "exec"), scope)
    metrics, chosen = scope["metrics"], scope["chosen"]
    assert len(metrics) == 256 and len(chosen.ids) == len(set(chosen.ids))
    # stratified quarter: floor(0.25 * N_c) of each class, all from the highest variabilities of that class
    gold = metrics.set_index("id").loc[chosen.ids, "gold"]
    for c, n_c in metrics["gold"].value_counts().items():
        assert (gold == c).sum() == int(0.25 * n_c)
        in_class = metrics[metrics["gold"] == c]
        threshold = in_class["variability"].nlargest(int(0.25 * n_c)).min()
        assert (metrics.set_index("id").loc[chosen.ids][gold == c]["variability"] >= threshold).all()


@pytest.mark.slow
def test_readme_notebook_example_runs(tmp_path, monkeypatch):
    if not (SHARED_DATA / "rotten_tomatoes").is_dir():
        pytest.skip("needs ../shared/data (the local dataset mirror)")
    text = (REPO / "README.md").read_text(encoding="utf-8").split("### In a notebook", 1)[1]
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1).replace("../shared/data", str(SHARED_DATA))
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    import datasets
    import matplotlib.figure

    assert isinstance(scope["fig"], matplotlib.figure.Figure)
    issues, ambiguous = scope["issues"], scope["ambiguous"]
    assert len(issues) == 256 and issues["rank"].tolist() == list(range(1, 257))
    assert isinstance(ambiguous, datasets.Dataset) and len(ambiguous) == int(0.33 * 256)


def test_compute_metrics_frame_equals_arrays():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(7, 3, 2)).astype(np.float32)
    gold = rng.integers(0, 2, 7)
    from_arrays = datamap.compute_metrics(logits, gold)
    rows = [{"id": f"x{i}", "epoch": e, "logits": logits[i, e].tolist(), "gold": int(gold[i])}
            for e in (2, 0, 1) for i in range(7)]  # epochs out of order on purpose
    from_frame = datamap.compute_metrics(pd.DataFrame(rows))
    assert from_frame["id"].tolist() == [f"x{i}" for i in range(7)]
    cols = ["confidence", "variability", "aum", "el2n", "entropy"]
    np.testing.assert_allclose(from_frame[cols].to_numpy(), from_arrays[cols].to_numpy(), rtol=1e-6)
    # confidence by hand for one example
    p = np.exp(logits[3]) / np.exp(logits[3]).sum(axis=1, keepdims=True)
    assert from_arrays.loc[3, "confidence"] == pytest.approx(p[:, gold[3]].mean(), rel=1e-6)
    assert datamap.compute_metrics(logits, gold, burn_out=1)["variability"].eq(0).all()


def test_regions_and_select():
    m = pd.DataFrame({"id": list("abcdef"), "gold": [0, 1, 0, 1, 0, 1],
                      "confidence": [0.9, 0.8, 0.5, 0.4, 0.1, 0.2], "variability": [0.0, 0.1, 0.3, 0.4, 0.05, 0.2]})
    m["region"] = datamap.assign_regions(m, fraction=0.34)  # 2 of 6 per ranking
    assert m["region"].tolist() == ["easy", "easy", "ambiguous", "ambiguous", "hard", "hard"]
    assert datamap.select(m, ambiguous=0.34).ids == ["d", "c"]
    assert datamap.select(m, drop_hard=True, by="confidence", bottom=2).ids == ["d", "c"]
    with pytest.raises(datamap.DatamapError, match="sum to 1.8"):
        datamap.select(m, ambiguous=0.9, easy=0.9)
    with pytest.raises(ValueError):  # DatamapError is a ValueError
        datamap.select(m, nonsense=1)


def test_load_run_reads_every_file(tmp_path):
    from datamap.io import atomic
    from datamap.io.store import DynamicsWriter

    run = tmp_path / "r"
    atomic.write_json(run / "labels.json", {"names": ["neg", "pos"]})
    atomic.write_table(run / "data.parquet", pd.DataFrame({"id": ["a", "b"], "text": ["x", "y"], "label": [0, 1]}))
    with DynamicsWriter(run / "dynamics.parquet") as w:
        w.write_epoch(0, np.array(["a", "b"], dtype=object), np.array([[1, 0], [0, 1]], np.float32), np.array([0, 1]))
    atomic.write_json(run / "eval" / "validation.json", {"set": "validation", "accuracy": 0.5})
    atomic.write_json(run / "selections" / "s.json", {"name": "s", "ids": ["b"]})
    r = datamap.load_run(run)
    assert r.label_names == ["neg", "pos"] and r.evaluations["validation"]["accuracy"] == 0.5
    assert r.selections == {"s": ["b"]} and r.data["text"].tolist() == ["x", "y"]
    # no metrics.parquet: computed from the dynamics (not written)
    assert r.metrics["confidence"].tolist() == pytest.approx([np.e / (1 + np.e)] * 2)
    assert not (run / "metrics.parquet").exists()
    assert r.dynamics["id"].tolist() == ["a", "b"] and r.dynamics_arrays().logits.shape == (2, 1, 2)
    with pytest.raises(datamap.DatamapError, match="run directory not found"):
        datamap.load_run(tmp_path / "missing")


def test_train_validates_before_reading_anything(tmp_path):
    with pytest.raises(datamap.DatamapError, match=r"^train: epochs: must be >= 1, got 0$"):
        datamap.train(dataset=str(tmp_path / "missing.csv"), out=str(tmp_path / "run"), epochs=0)
    with pytest.raises(datamap.DatamapError, match=r"mixup.pairing"):
        datamap.train(dataset="x", out=str(tmp_path / "run"), mixup={"pairing": "td-entropy"})
    assert not (tmp_path / "run").exists()
