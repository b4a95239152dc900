"""`train` says what it is about to do (examples, class balance, eval set, device, precision), and a
mistyped dataset name gets a did-you-mean."""

from __future__ import annotations

import pytest

from conftest import make_mirror, make_sentiment_frame
from datamap.errors import DatamapError
from datamap.io.data import load_dataset
from stages.test_bad_inputs import call


def test_startup_line(tmp_path, tiny_model_dir, capsys):
    frame = make_sentiment_frame(60)
    frame.to_csv(tmp_path / "d.csv", index=False)
    capsys.readouterr()
    assert call("train", "--dataset", tmp_path / "d.csv", "--model", tiny_model_dir, "--out", tmp_path / "r",
                "--epochs", "1", "--batch-size", "16", "--max-length", "24", "--lr", "1e-3", "--seed", "4",
                "--no-save-model") == 0
    lines = [x for x in capsys.readouterr().out.splitlines() if x.startswith("training: ")]
    assert lines == [f"training: 54 examples (neg 27 50%, pos 27 50%) · eval heldout 6 · model {tiny_model_dir} · "
                     "device cpu, fp32, 1 process · 1 epochs, batch 16, lr 0.001, seed 4"], lines


def test_did_you_mean_a_file(tmp_path, monkeypatch):
    make_sentiment_frame(10).to_csv(tmp_path / "sentiment.csv", index=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DatamapError, match=r"sentimnt\.csv: file not found \(did you mean 'sentiment\.csv'\?\)"):
        load_dataset("sentimnt.csv")
    with pytest.raises(DatamapError, match=r"file not found$"):
        load_dataset("zzzzzz.csv")


def test_did_you_mean_a_mirror_entry(tmp_path, monkeypatch):
    import datasets

    monkeypatch.setenv("DATAMAP_DATA_DIR", str(make_mirror(tmp_path)))
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: (_ for _ in ()).throw(ConnectionError("offline")))
    with pytest.raises(DatamapError, match=r"dataset 'tyo' split 'train': not a local file or mirror entry "
                                           r"\(did you mean 'toy'\?\).*offline"):
        load_dataset("tyo")
