"""Faults and hostile content: NaN/inf embeddings and probabilities, YAML bombs, duplicate keys and
non-UTF-8, `--out FILE/x`, terminal escapes in dataset content, a full disk.

Bad input in the table style of test_bad_inputs.py (its module fixture ``world`` is reused): exit 2,
one line, the fixture tree unchanged.
"""

from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from datamap.io.embeddings import read_vectors, write_embeddings
from stages.refusals import check_refusal
from stages.test_bad_inputs import _copy_run, call, ok
from stages.test_bad_inputs import world  # noqa: F401  (the module fixture, built again for this module)


@pytest.fixture(scope="module")
def fw(request):
    built = request.getfixturevalue("world")
    base = built["base"]
    run = built["run"]
    w = dict(built)
    emb = read_vectors(run / "embeddings.parquet", "id", "embedding")
    for name, value in (("nanemb", np.nan), ("infemb", np.inf)):
        d = _copy_run(run, base / name, files=("config.yaml", "data.parquet", "labels.json", "dynamics.parquet",
                                                "metrics.parquet"))
        vec = emb.vectors.copy()
        vec[4, 2] = value
        write_embeddings(d / "embeddings.parquet", emb.keys, vec, {"model": "x", "pooling": "cls"})
        w[name] = d
    ids = pd.read_parquet(run / "data.parquet")["id"].astype(str).tolist()
    good = [[0.6, 0.4]] * len(ids)
    for name, rows in (("nanprobs", [*good[:5], [float("nan"), 0.5], *good[6:]]),
                       ("ragged", [*good[:7], [0.2, 0.3, 0.5], *good[8:]])):
        pd.DataFrame({"id": ids, "probs": rows}).to_parquet(base / f"{name}.parquet")
        w[name] = base / f"{name}.parquet"
    w["nanprobs_id"], w["ragged_id"] = ids[5], ids[7]
    exp = built["expfile"].read_text()
    (base / "dup.yaml").write_text(exp + "seeds: [1]\nseeds: [2]\n")
    bomb = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{c}: &{c} [" + ",".join([f"*{p}"] * 9) + "]\n" for p, c in zip("abcdefgh", "bcdefghi"))
    (base / "bomb.yaml").write_text(exp + "notes:\n" + "".join("  " + line + "\n" for line in bomb.splitlines()))
    (base / "deep.yaml").write_text(exp + "notes: " + "[" * 300 + "]" * 300 + "\n")
    (base / "latin1.yaml").write_bytes(exp.encode() + "notes: caf\xe9\n".encode("latin-1"))
    (base / "cvdup.yaml").write_text("dataset: toy\nepochs: 1\nepochs: 2\n")
    return w


CASES = [
    ("cluster-nan-embedding", ["cluster", "{nanemb}", "--k", "2"], ["embeddings.parquet", "non-finite", "row 5"]),
    ("cluster-inf-embedding", ["cluster", "{infemb}", "--k", "2"], ["non-finite", "row 5"]),
    ("plot-nan-embedding", ["plot", "{nanemb}", "--html", "--xy", "embedding"], ["non-finite", "row 5"]),
    ("errors-nan-probs", ["errors", "{run}", "--method", "cleanlab", "--probs", "{nanprobs}"], ["non-finite", "{nanprobs_id}"]),
    ("errors-ragged-probs", ["errors", "{run}", "--method", "cleanlab", "--probs", "{ragged}"], ["3 values", "{ragged_id}"]),
    ("run-duplicate-key", ["run", "{base}/dup.yaml", "--dry-run"], ["dup.yaml", "duplicate key 'seeds'"]),
    ("run-alias-bomb", ["run", "{base}/bomb.yaml", "--dry-run"], ["bomb.yaml", "expands to more than"]),
    ("run-deep-nesting", ["run", "{base}/deep.yaml", "--dry-run"], ["deep.yaml", "nested"]),
    ("run-not-utf8", ["run", "{base}/latin1.yaml", "--dry-run"], ["latin1.yaml", "not UTF-8"]),
    ("crossval-duplicate-key", ["crossval", "{base}/cvdup.yaml", "--out", "{base}/cv"], ["cvdup.yaml", "duplicate key 'epochs'"]),
    ("import-overwrite-own-input", ["import-dynamics", "{td}", "--out", "{run}", "--overwrite"],
     ["training_dynamics", "inside --out"]),
    ("embed-max-length-above-model", ["embed", "{run}", "--max-length", "100000", "--out", "{base}/e9.parquet"],
     ["--max-length 100000", "takes at most"]),
    ("train-max-length-above-model", ["train", "--dataset", "toy", "--model", "{model}", "--out", "{base}/t9",
                                      "--max-length", "100000"], ["--max-length 100000", "takes at most"]),
    ("evaluate-max-length-above-model", ["evaluate", "{run}", "--dataset", "toy", "--split", "test", "--name", "ml",
                                         "--max-length", "100000"], ["--max-length 100000", "takes at most"]),
    ("embed-out-under-file", ["embed", "{run}", "--out", "{afile}/e.parquet"], ["scores.csv is a file"]),
    ("crossval-out-under-file", ["crossval", "{run}/config.yaml", "--out", "{afile}/cv"], ["scores.csv is a file"]),
    ("cluster-out-under-file", ["cluster", "{run}", "--k", "2", "--out", "{afile}/c.parquet"], ["scores.csv is a file"]),
]


@pytest.mark.parametrize("case,argv,expected", CASES, ids=[c[0] for c in CASES])
def test_refused_in_one_line_and_nothing_changes(fw, case, argv, expected, capsys, monkeypatch):
    check_refusal(fw, argv, expected, capsys, monkeypatch)


ESC = "\x1b[2J\x1b]0;pwned\x07\u202e"


def test_control_characters_in_content_are_escaped_in_terminal_output(fw, tmp_path, capsys):
    run = _copy_run(fw["run"], tmp_path / "hostile")
    (run / "labels.json").write_text(json.dumps({"names": ["neg" + ESC, "pos"]}))
    data = pd.read_parquet(run / "data.parquet")
    data["text"] = data["text"] + " " + ESC
    data.to_parquet(run / "data.parquet")
    capsys.readouterr()
    ok("metrics", run)
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out and "neg\\x1b[2J" in out
    ok("errors", run, "--top", "5", "--force-flag")  # the tiny model is near chance: errors refuses without it
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "\\x1b]0;pwned\\x07" in out


def test_a_full_disk_is_one_line_naming_the_file_and_leaves_no_temporary(fw, tmp_path, capsys, monkeypatch):
    run = _copy_run(fw["run"], tmp_path / "full", files=("config.yaml", "data.parquet", "labels.json", "dynamics.parquet",
                                                          "metrics.parquet", "embeddings.parquet"))
    real = Path.write_bytes

    def full(self, data):
        real(self, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device", str(self))

    monkeypatch.setattr(Path, "write_bytes", full)
    capsys.readouterr()
    assert call("plot", run) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "No space left on device (ENOSPC)" in err and ".map.png." in err, err
    assert sorted(p.name for p in run.iterdir()) == sorted(["config.yaml", "data.parquet", "labels.json",
                                                            "dynamics.parquet", "metrics.parquet", "embeddings.parquet"])
    monkeypatch.undo()
    import datamap.io.embeddings as E

    calls = []

    def second_fails(path, table, **kw):
        calls.append(path)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_write(path, table, **kw)

    real_write = E.write_table
    monkeypatch.setattr(E, "write_table", second_fails)
    assert call("cluster", run, "--k", "2") == 1
    assert "ENOSPC" in capsys.readouterr().err
    assert not (run / "clusters.centroids.parquet").exists() and not (run / "clusters.parquet").exists()
    monkeypatch.undo()
    ok("cluster", run, "--k", "2")  # nothing left behind blocks the rerun
    shutil.rmtree(run)
