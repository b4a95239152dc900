"""The import-dynamics and export-dynamics stages: allenai-format jsonl files <-> a run directory."""

from __future__ import annotations

import os

import yaml

from datamap.errors import DatamapError
from datamap.io import atomic
from datamap.io.data import load_dataset
from datamap.io.jsonl import export_jsonl, read_jsonl_dir
from datamap.io.rundir import RunDir
from datamap.io.store import write_dynamics


def import_dynamics(
    folder: str | os.PathLike,
    out: str | os.PathLike,
    label_names: list[str] | None = None,
    dataset: str | None = None,
    split: str = "train",
    columns: dict | None = None,
) -> RunDir:
    """Create a run directory from ``dynamics_epoch_{e}.jsonl`` files (optionally with the dataset's records)."""
    dyn = read_jsonl_dir(folder)
    if label_names is not None and len(label_names) != dyn.n_classes:
        raise DatamapError(f"--label-names has {len(label_names)} names but the dynamics have {dyn.n_classes} classes")
    run = RunDir(out)
    data = None
    if dataset:
        frame, names, source = load_dataset(dataset, split, label_names=label_names, **(columns or {}))
        frame = frame.set_index("id")
        missing = [i for i in dyn.ids if i not in frame.index]
        if missing:
            raise DatamapError(f"{source}: {len(missing)} ids of the dynamics are not in the dataset (first: '{missing[0]}')")
        data = frame.loc[list(dyn.ids)].reset_index()
        if (data["label"].to_numpy() != dyn.gold).any():
            raise DatamapError(f"{source}: gold labels of the dynamics differ from the dataset's labels")
        label_names = names
    names = label_names or [str(i) for i in range(dyn.n_classes)]
    run.root.mkdir(parents=True, exist_ok=True)
    write_dynamics(run.dynamics, dyn)
    atomic.write_json(run.labels, {"names": names})
    if data is not None:
        atomic.write_table(run.data, data)
    atomic.write_text(
        run.config,
        yaml.safe_dump({"imported_from": str(folder), "dataset": dataset, "split": split if dataset else None}, sort_keys=False),
    )
    return run


def export_dynamics(run: "str | os.PathLike", out: "str | os.PathLike | None" = None) -> list:
    """Write ``RUN/dynamics.parquet`` as ``dynamics_epoch_{e}.jsonl`` files into ``out``
    (default ``RUN/training_dynamics``); returns the paths written."""
    rd = RunDir(run)
    rd.require(rd.dynamics)
    return export_jsonl(rd.dynamics, out or rd.jsonl_dir)
