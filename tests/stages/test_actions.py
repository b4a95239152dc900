"""Acting on the flags: relabel (only the flagged rows change, to the prediction) and loss weights
(weight 0 == dropping the example, uniform weights == the plain run)."""

import numpy as np
import pandas as pd
import pytest
from stages.test_errors import FLIPPED, N, make_run  # the hand-made run whose flipped ids are known

from conftest import make_sentiment_frame
from datamap.cli import main
from datamap.errors import DatamapError
from datamap.stages.actions import relabel_run, weights_run
from datamap.stages.errors import find_errors


def test_relabel_changes_only_the_flagged_rows_to_the_prediction(tmp_path, capsys):
    run, flipped, true = make_run(_mkdir(tmp_path / "run"))
    find_errors(run, cut="top:4")  # 4 of the 8 flipped: the other 4 are predicted their true class but not flagged
    issues = pd.read_parquet(run / "label_issues.parquet").set_index("id")
    top4 = set(issues.index[:4])
    out = tmp_path / "relabeled.parquet"
    with pytest.raises(SystemExit) as exc:
        main(["relabel", str(run), "--out", str(out)])
    assert exc.value.code == 0 and f"4 of {N} labels changed (4 flagged)" in capsys.readouterr().out
    new = pd.read_parquet(out)
    old = pd.read_parquet(run / "data.parquet")
    assert list(new["id"]) == list(old["id"]) and list(new["text"]) == list(old["text"])
    changed = new["label"].to_numpy() != old["label"].to_numpy()
    assert set(new["id"][changed]) == top4 == set(new["id"][new["relabeled"]]) and top4 < FLIPPED
    assert (new["label"].to_numpy()[changed] == true[changed]).all()  # to the predicted (here: the true) class
    pred = issues.loc[new["id"], "predicted_label_id"].to_numpy()
    assert (new["label"].to_numpy()[changed] == pred[changed]).all()
    assert (pred[flipped & ~changed] != old["label"].to_numpy()[flipped & ~changed]).all()  # unflagged: kept
    assert (new["label_name"] == np.array(["a", "b", "c"])[new["label"]]).all()
    assert (new["original_label"] == old["label_name"]).all()
    with pytest.raises(DatamapError, match="--out"):
        relabel_run(run, out)  # exists


def _mkdir(path):
    path.mkdir(parents=True)
    return path


def test_relabelled_file_round_trips_through_train(tmp_path, tiny_model_dir):
    from datamap.training.config import TrainConfig
    from datamap.training.loop import train

    run = _mkdir(tmp_path / "run")
    make_sentiment_frame(40, seed=3).assign(id=[f"r{i}" for i in range(40)]).to_parquet(run / "src.parquet")
    first = train(TrainConfig(dataset=str(run / "src.parquet"), model=str(tiny_model_dir), out=str(tmp_path / "a"),
                              epochs=2, batch_size=8, eval_split=None, save_model=False, checkpoint=False), progress=False)
    find_errors(first.root, cut="top:6", force_flag=True)
    out = tmp_path / "relabeled.csv"
    res = relabel_run(first.root, out)
    again = train(TrainConfig(dataset=str(out), model=str(tiny_model_dir), out=str(tmp_path / "b"), epochs=1,
                              batch_size=8, eval_split=None, save_model=False, checkpoint=False), progress=False)
    data = pd.read_parquet(again.data)
    written = pd.read_csv(out)
    assert list(data["id"]) == list(written["id"].astype(str))
    assert (data["label"].to_numpy() == written["label"].to_numpy()).all() and res.n == 40


def _tiny_run(tmp_path, model, name, frame, **extra):
    from transformers import AutoModelForSequenceClassification

    from datamap.training.config import TrainConfig
    from datamap.training.loop import train

    path = tmp_path / f"{name}.parquet"
    frame.to_parquet(path)
    cfg = TrainConfig(dataset=str(path), model=str(model), out=str(tmp_path / name), epochs=3, batch_size=64, lr=1e-3,
                      eval_split=None, checkpoint=False, seed=7, warmup_ratio=0.0, **extra)
    run = train(cfg, progress=False)
    return {k: v.detach().clone() for k, v in AutoModelForSequenceClassification.from_pretrained(run.model).state_dict().items()}


def _max_diff(a, b):
    return max(float((a[k] - b[k]).abs().max()) for k in a)


@pytest.fixture(scope="module")
def no_dropout_model(tiny_model_dir, tmp_path_factory):
    """The tiny BERT without dropout: a batch's gradient then depends on its rows, not on the dropout draw."""
    from transformers import AutoTokenizer, BertForSequenceClassification

    folder = tmp_path_factory.mktemp("tiny-nodrop")
    BertForSequenceClassification.from_pretrained(tiny_model_dir, hidden_dropout_prob=0.0,
                                                  attention_probs_dropout_prob=0.0).save_pretrained(folder)
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(folder)
    return folder


def test_zero_weight_equals_dropping_and_uniform_weight_equals_the_plain_run(tmp_path, no_dropout_model):
    # one batch per epoch (batch_size 64 >= 24 rows) and no dropout: the same optimizer steps on the same rows
    frame = make_sentiment_frame(24, seed=4).assign(id=[f"e{i}" for i in range(24)])
    plain = _tiny_run(tmp_path, no_dropout_model, "plain", frame)
    dropped = _tiny_run(tmp_path, no_dropout_model, "dropped", frame.drop(index=[3, 10]))
    w = pd.DataFrame({"id": frame["id"], "weight": np.where(frame.index.isin([3, 10]), 0.0, 1.0)})
    w.to_csv(tmp_path / "zero_w.csv", index=False)
    zero = _tiny_run(tmp_path, no_dropout_model, "zero", frame, weights=str(tmp_path / "zero_w.csv"))
    pd.DataFrame({"id": frame["id"], "weight": 0.5}).to_parquet(tmp_path / "half_w.parquet")
    half = _tiny_run(tmp_path, no_dropout_model, "half", frame, weights=str(tmp_path / "half_w.parquet"))
    assert _max_diff(plain, dropped) > 1e-3  # dropping two examples does change the model
    assert _max_diff(zero, dropped) < 1e-5
    assert _max_diff(half, plain) < 1e-5


def test_weights_file_rule_and_bad_weights(tmp_path):
    run, flipped, _ = make_run(_mkdir(tmp_path / "run"))
    find_errors(run, cut="aum0")
    res = weights_run(run, tmp_path / "w.parquet", flagged_weight=0.25)
    w = pd.read_parquet(tmp_path / "w.parquet")
    assert res.n_flagged == len(FLIPPED) and len(w) == N
    assert (w["weight"].to_numpy() == np.where(flipped, 0.25, 1.0)).all()
    from datamap.io.weights import read_weights

    assert (read_weights(tmp_path / "w.parquet", ["x3", "x0"]) == [0.25, 1.0]).all()
    with pytest.raises(DatamapError, match="no weight for training id 'nope'"):
        read_weights(tmp_path / "w.parquet", ["x3", "nope"])
    pd.DataFrame({"id": ["a", "b"], "weight": [1.0, -1.0]}).to_csv(tmp_path / "neg.csv", index=False)
    with pytest.raises(DatamapError, match="finite and >= 0"):
        read_weights(tmp_path / "neg.csv", ["a", "b"])
    pd.DataFrame({"id": ["a"], "weight": [0.0]}).to_csv(tmp_path / "zeros.csv", index=False)
    with pytest.raises(DatamapError, match="every weight is 0"):
        read_weights(tmp_path / "zeros.csv", ["a"])
    with pytest.raises(DatamapError, match="--flagged-weight"):
        weights_run(run, tmp_path / "w2.parquet", flagged_weight=-1)
