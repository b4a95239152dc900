"""The io helpers behind strict inputs: path-safe names, output refusals, whole-folder swaps,
readers that name a broken file, non-finite logits in the dynamics store."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from datamap.errors import DatamapError
from datamap.io import atomic
from datamap.io.names import check_name
from datamap.io.readers import check_same_ids, read_parquet, read_scores
from datamap.io.store import Dynamics, read_dynamics, write_dynamics


@pytest.mark.parametrize("name", ["amb33", "a.b_c-1", "X"])
def test_good_names_pass(name):
    assert check_name(name, "--name") == name


@pytest.mark.parametrize("name", ["", ".", "..", "../x", "a/b", "a\\b", ".hidden", "a..b", "-x", "a b", None])
def test_names_that_leave_their_folder_are_refused(name):
    with pytest.raises(DatamapError, match="--name"):
        check_name(name, "--name")


def test_name_suffix_is_refused():
    with pytest.raises(DatamapError, match=r"leave out the \.json suffix"):
        check_name("x.json", "selection name", suffix=".json")


def test_refuse_existing_file_and_folder(tmp_path):
    f = tmp_path / "f.txt"
    atomic.refuse_existing(f, False)  # absent: fine
    f.write_text("x")
    with pytest.raises(DatamapError, match=r"--out .*f\.txt: already exists; pass --overwrite"):
        atomic.refuse_existing(f, False, "--out")
    atomic.refuse_existing(f, True)
    with pytest.raises(DatamapError, match="is a directory"):
        atomic.refuse_existing(tmp_path, True)


def test_refuse_existing_dir(tmp_path):
    atomic.refuse_existing_dir(tmp_path / "new", False)
    (tmp_path / "empty").mkdir()
    atomic.refuse_existing_dir(tmp_path / "empty", False)
    (tmp_path / "empty" / "x").write_text("x")
    with pytest.raises(DatamapError, match="already holds files"):
        atomic.refuse_existing_dir(tmp_path / "empty", False)
    atomic.refuse_existing_dir(tmp_path / "empty", True)
    with pytest.raises(DatamapError, match="is a file"):
        atomic.refuse_existing_dir(tmp_path / "empty" / "x", True)


def test_replace_dir_swaps_whole_folders(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "old.txt").write_text("old")
    new = atomic.temp_dir(target)
    (new / "new.txt").write_text("new")
    atomic.replace_dir(new, target)
    assert [p.name for p in target.iterdir()] == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_read_parquet_names_the_broken_file(tmp_path):
    p = tmp_path / "t.parquet"
    p.write_bytes(b"PAR1 not really")
    with pytest.raises(DatamapError, match=r"t\.parquet: cannot read as Parquet"):
        read_parquet(p)
    with pytest.raises(DatamapError, match=r"nope\.parquet: not found"):
        read_parquet(tmp_path / "nope.parquet")


@pytest.mark.parametrize(
    "scores,message",
    [
        ([1, 2], "expected a JSON object of scores, got list"),
        ({"accuracy": "high"}, "'accuracy' must be a number, got 'high'"),
        ({"n": True}, "'n' must be a number, got True"),
        ({"per_class": {"pos": {"f1": "x"}}}, "'per_class.pos.f1' must be a number"),
        ({"confusion": [[1, None], "x"]}, "'confusion' must be a list of lists"),
        ({"label_names": ["a", 1]}, "'label_names' must be a list of strings"),
        ({"heuristics": []}, "'heuristics' must be an object"),
    ],
)
def test_read_scores_checks_types(tmp_path, scores, message):
    p = tmp_path / "s.json"
    p.write_text(json.dumps(scores))
    with pytest.raises(DatamapError, match=r"s\.json: " + message.replace("(", r"\(").replace("[", r"\[")):
        read_scores(p)


def test_check_same_ids(tmp_path):
    import pandas as pd

    pd.DataFrame({"id": ["a", "b", "c"]}).to_parquet(tmp_path / "data.parquet")
    check_same_ids(["c", "a", "b"], tmp_path / "data.parquet", "dyn")
    check_same_ids(["zz"], tmp_path / "absent.parquet", "dyn")  # no data file: nothing to compare
    with pytest.raises(DatamapError, match=r"1 of the 3 ids of dyn are not in it \(first: 'z'\)"):
        check_same_ids(["a", "b", "z"], tmp_path / "data.parquet", "dyn")
    with pytest.raises(DatamapError, match=r"1 ids have no dynamics in dyn \(first: 'c'\)"):
        check_same_ids(["a", "b"], tmp_path / "data.parquet", "dyn")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_logits_name_the_example_and_epoch(tmp_path, bad):
    logits = np.zeros((4, 3, 2), dtype=np.float32)
    logits[2, 1, 1] = bad
    ids = np.array(["a", "b", "c", "d"], dtype=object)
    write_dynamics(tmp_path / "d.parquet", Dynamics(ids, logits, np.zeros(4, dtype=np.int64), np.arange(3)))
    with pytest.raises(DatamapError, match=r"d\.parquet: non-finite logits .* for example 'c' at epoch 1"):
        read_dynamics(tmp_path / "d.parquet")


def test_edited_config_or_data_of_a_finished_run_is_refused(tmp_path):
    """require_complete compares config.yaml and data.parquet with the hashes the manifest recorded."""
    from datamap.io.rundir import RunDir, file_sha256

    rd = RunDir(tmp_path)
    rd.config.write_text("seed: 1\nepochs: 3\n", encoding="utf-8")
    pd.DataFrame({"id": ["a"], "text": ["x"], "label": [0]}).to_parquet(rd.data, index=False)
    rd.write_manifest(status="complete", config_sha256=file_sha256(rd.config), data_sha256=file_sha256(rd.data))
    rd.require_complete()  # untouched: fine
    rd.config.write_text("seed: 1\nepochs: 30\n", encoding="utf-8")
    with pytest.raises(DatamapError, match=r"config\.yaml: changed since training \(sha256 differs from manifest\.json\)"):
        rd.require_complete()
    rd.config.write_text("seed: 1\nepochs: 3\n", encoding="utf-8")
    pd.DataFrame({"id": ["a"], "text": ["y"], "label": [0]}).to_parquet(rd.data, index=False)
    with pytest.raises(DatamapError, match=r"data\.parquet: changed since training"):
        rd.require_complete()
