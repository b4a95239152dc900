"""Atomic writes keep the user's umask: outputs are as readable as any file the user creates."""

from __future__ import annotations

import os
import stat

import numpy as np
import pandas as pd
import pytest

from datamap.io import atomic
from datamap.io.store import DynamicsWriter


@pytest.fixture(params=[0o022, 0o077, 0o002])
def umask(request):
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_files_and_folders_follow_the_umask(tmp_path, umask):
    written = [
        atomic.write_json(tmp_path / "a.json", {"x": 1}),
        atomic.write_text(tmp_path / "b.txt", "x"),
        atomic.write_table(tmp_path / "c.parquet", pd.DataFrame({"x": [1]})),
    ]
    with DynamicsWriter(tmp_path / "dynamics.parquet") as w:
        w.write_epoch(0, np.array(["a"], dtype=object), np.zeros((1, 2), np.float32), np.array([0]))
    written.append(tmp_path / "dynamics.parquet")
    for path in written:
        assert mode(path) == 0o666 & ~umask, path
    folder = atomic.temp_dir(tmp_path / "model")
    assert mode(folder) == 0o777 & ~umask
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary file left behind


def test_saved_model_folder_follows_the_umask(tmp_path, tiny_model_dir, umask):
    from datamap.training.models import load_model, load_tokenizer, save_model

    save_model(load_model(str(tiny_model_dir), ["neg", "pos"]), load_tokenizer(str(tiny_model_dir)), tmp_path / "model")
    assert mode(tmp_path / "model") == 0o777 & ~umask
    assert mode(tmp_path / "model" / "config.json") == 0o666 & ~umask
