"""The Python API with data and models in memory: datasets.Dataset/DatasetDict, pandas frames, save_to_disk
folders and model objects, beside names and paths."""

from __future__ import annotations

import json

import pytest
import torch

import datamap
from conftest import make_sentiment_frame
from datamap.errors import DatamapError

datasets = pytest.importorskip("datasets")



def class_label_dataset(n: int, seed: int):
    frame = make_sentiment_frame(n, seed=seed)[["text", "label"]]
    features = datasets.Features({"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["bad", "good"])})
    return datasets.Dataset.from_pandas(frame, features=features, preserve_index=False)


def small(tmp_path, name: str, **options):
    return dict(out=str(tmp_path / name), epochs=1, batch_size=8, lr=1e-3, checkpoint=False, **options)


def test_dataset_dict_keeps_class_names_and_evaluates_on_its_validation_split(tmp_path, tiny_model_dir):
    dd = datasets.DatasetDict(train=class_label_dataset(16, 0), validation=class_label_dataset(8, 5))
    run = datamap.train(data=dd, model=str(tiny_model_dir), **small(tmp_path, "dd"))
    assert run.label_names == ["bad", "good"]
    assert run.data["label_name"].tolist() == [["bad", "good"][y] for y in dd["train"]["label"]]
    scores = json.loads((run.path / "eval" / "validation.json").read_text())
    assert scores["n"] == 8 and scores["label_names"] == ["bad", "good"]
    assert len(run.dynamics) == 16


def test_frame_and_save_to_disk_folder_and_model_object(tmp_path, tiny_model_dir):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    frame = make_sentiment_frame(16, seed=2)
    run = datamap.train(dataset=frame, model=str(tiny_model_dir), eval_split=None, **small(tmp_path, "frame"))
    assert run.data["text"].tolist() == frame["text"].tolist() and run.label_names == ["neg", "pos"]

    folder = tmp_path / "saved"
    datasets.DatasetDict(train=class_label_dataset(16, 3)).save_to_disk(str(folder))
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    before = model.classifier.weight.detach().clone()
    run = datamap.train(dataset=str(folder), model=model, tokenizer=tokenizer, eval_split=None,
                        **small(tmp_path, "object"))
    assert run.label_names == ["bad", "good"] and len(run.dynamics) == 16
    assert not torch.equal(model.classifier.weight, before)  # the object itself was trained
    saved = AutoModelForSequenceClassification.from_pretrained(run.path / "model")
    assert torch.equal(saved.classifier.weight, model.classifier.weight)
    assert saved.config.id2label == {0: "bad", 1: "good"}


def test_bad_in_memory_inputs_are_one_line(tmp_path, tiny_model_dir):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=3, ignore_mismatched_sizes=True)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    frame = make_sentiment_frame(16)
    with pytest.raises(DatamapError, match="^tokenizer: required with a model object"):
        datamap.train(dataset=frame, model=model, **small(tmp_path, "a"))
    with pytest.raises(DatamapError, match="the object has 3 outputs but the data has 2 classes"):
        datamap.train(dataset=frame, model=model, tokenizer=tokenizer, eval_split=None, **small(tmp_path, "b"))
    with pytest.raises(DatamapError, match="no 'dev' split \\(found: train\\)"):
        datamap.train(dataset=datasets.DatasetDict(train=class_label_dataset(8, 0)), model=str(tiny_model_dir),
                      eval_split="dev", **small(tmp_path, "c"))
    with pytest.raises(DatamapError, match="^dataset: a name, a path, a datasets.Dataset"):
        datamap.train(dataset=[1, 2], model=str(tiny_model_dir), **small(tmp_path, "d"))
    assert not any((tmp_path / name / "data.parquet").exists() for name in "abcd")


def test_notebook_functions_on_a_run(tmp_path, tiny_model_dir):
    """plot_map gives a Figure, label_issues a ranked frame, Run.metrics is computed when the file is missing."""
    import matplotlib.figure
    import numpy as np

    from datamap.stages.measure import measure_run

    frame = make_sentiment_frame(16)
    run = datamap.train(data=frame, model=str(tiny_model_dir), eval_split=None, **dict(small(tmp_path, "nb"), epochs=2))
    assert not (run.path / "metrics.parquet").exists()
    computed = run.metrics  # no datamap metrics yet
    assert len(computed) == 16 and set(computed["region"]) <= {"easy", "ambiguous", "hard", "none"}
    written = measure_run(run.path)  # the command line's table: the same values
    for col in ("confidence", "variability", "correctness", "aum", "region"):
        assert np.array_equal(computed[col].to_numpy(), written[col].to_numpy()), col
    fig = datamap.plot_map(run)
    assert isinstance(fig, matplotlib.figure.Figure) and fig.axes
    # a tiny model near chance: flag anyway, by the negative-margin cut, with no per-class cap
    issues = datamap.label_issues(run.path, method="aum", cut="aum0", force_flag=True, max_class_share=1.0)
    assert len(issues) == 16 and issues["rank"].tolist() == list(range(1, 17))
    assert issues["is_label_issue"].dtype == bool and "text" in issues.columns
    aum = computed.set_index("id").loc[issues["id"], "aum"].to_numpy()
    assert np.array_equal(issues["is_label_issue"].to_numpy(), aum < 0)  # the negative-margin cut
    assert np.all(np.diff(aum) >= -1e-9)  # ranked by AUM, lowest first
    assert (run.path / "label_issues.parquet").exists()
    with pytest.raises(DatamapError, match="--method"):
        datamap.label_issues(run, method="nope")
    # a selection back as the rows of the user's own data, in its order
    chosen = datamap.select(run.metrics, hard=0.25)
    wanted = set(chosen.ids)
    rows = [i for i, id_ in enumerate(run.data["id"]) if id_ in wanted]
    sub = chosen.to_dataset(frame)
    assert len(sub) == 4 and sub["text"].tolist() == frame["text"].iloc[rows].tolist()
    ds = chosen.to_dataset(datasets.Dataset.from_pandas(frame, preserve_index=False))
    assert isinstance(ds, datasets.Dataset) and ds["text"] == sub["text"].tolist()
    with pytest.raises(DatamapError, match="^to_dataset: [0-9]+ selected ids are not in the data"):
        chosen.to_dataset(make_sentiment_frame(8, seed=9))
