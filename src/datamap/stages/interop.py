"""The import-dynamics and export-dynamics stages: allenai-format jsonl files <-> a run directory."""

from __future__ import annotations

import os
import re
import shutil

import yaml

import numpy as np

from datamap.errors import DatamapError, user_errors
from datamap.io import atomic
from datamap.io.data import load_dataset
from pathlib import Path

from datamap.io.jsonl import PARTIAL_MARKER, read_jsonl_dir, write_jsonl
from datamap.io.rundir import RunDir
from datamap.io.store import read_dynamics, write_dynamics


def import_dynamics(
    folder: str | os.PathLike,
    out: str | os.PathLike,
    label_names: list[str] | None = None,
    dataset: str | None = None,
    split: str = "train",
    columns: dict | None = None,
    overwrite: bool = False,
    probabilities: bool = False,
) -> RunDir:
    """Create a run directory from ``dynamics_epoch_{e}.jsonl`` files (optionally with the dataset's records).

    Parameters
    ----------
    folder : path
        Folder of ``dynamics_epoch_{e}.jsonl`` files, epochs 0..E-1 (no partial export).
    out : path
        The run directory to write.
    label_names : list of str or None, default None
        Class names in id order (as many as the dynamics have classes).
    dataset, split : str
        Attach the records of this dataset split, matched by id.
    columns : dict or None
        ``text_column``, ``text_pair_column``, ``label_column``, ``id_column`` of ``dataset``.
    overwrite : bool, default False
        Replace a run already in ``out`` (its files of the run contract are removed first);
        without it a folder holding files is refused before anything is read.
    probabilities : bool, default False
        The files hold probabilities (a softmax already applied): convert them to logits with
        ``log`` (:func:`datamap.core.probs.logits_from_probabilities`). Without it, files whose
        every row lies in [0, 1] and sums to 1 are refused (they are not logits).
    """
    run = RunDir(out)
    if run.root.exists() and not run.root.is_dir():
        raise DatamapError(f"--out {run.root}: is a file; give a folder")
    if run.root.is_dir() and any(run.root.iterdir()) and not overwrite:
        raise DatamapError(f"--out {run.root}: already holds files; pass --overwrite to replace the run")
    if run.root.is_dir():  # --overwrite clears the run's files: never the command's own inputs
        run.check_no_links()
        for what, value in (("the dynamics folder", folder), ("--dataset", dataset)):
            if value and Path(value).exists() and Path(value).resolve().is_relative_to(run.root.resolve()):
                raise DatamapError(f"{what} {value}: lies inside --out {run.root}, which --overwrite clears; "
                                   "copy it elsewhere first or choose another --out")
    dyn = read_jsonl_dir(folder)
    dyn = as_logits(dyn, probabilities, f"{folder} (dynamics_epoch_*.jsonl)")
    if label_names is not None and len(label_names) != dyn.n_classes:
        raise DatamapError(f"--label-names has {len(label_names)} names but the dynamics have {dyn.n_classes} classes")
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
    if run.root.is_dir():
        run.clear()  # the old run's metrics, maps... would not describe these dynamics
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


def as_logits(dyn, probabilities: bool, source: str):
    """``dyn`` with logits: probabilities refused (one line naming ``source``) unless ``probabilities``,
    then converted with log."""
    from dataclasses import replace

    from datamap.core.probs import logits_from_probabilities, looks_like_probabilities

    if probabilities:
        with user_errors(f"{source}: --probabilities"):
            return replace(dyn, logits=logits_from_probabilities(dyn.logits, axis=-1).astype(np.float32))
    if looks_like_probabilities(dyn.logits, axis=-1):
        raise DatamapError(f"{source}: every row lies in [0, 1] and sums to 1: these are probabilities, not logits; "
                           "pass --probabilities to convert them with log")
    return dyn


def export_dynamics(run: "str | os.PathLike", out: "str | os.PathLike | None" = None, overwrite: bool = False) -> list:
    """Write ``RUN/dynamics.parquet`` as ``dynamics_epoch_{e}.jsonl`` files; returns the paths written.

    Parameters
    ----------
    run : path
        Run directory holding ``dynamics.parquet``.
    out : path or None, default None
        The folder to write (default ``RUN/training_dynamics``). It is written whole or not at
        all: the files go to a temporary folder beside it (marked partial until complete), which
        is then renamed onto ``out``.
    overwrite : bool, default False
        Replace a folder that already holds files (it is swapped out only once the new one is
        complete); without it such a folder is refused before anything is read.
    """
    rd = RunDir(run)
    rd.require(rd.dynamics)
    out = Path(out) if out is not None else rd.jsonl_dir
    if out.exists() and rd.root.resolve().is_relative_to(out.resolve()):
        raise DatamapError(f"--out {out}: holds the run {rd.root} itself; replacing it would delete the run "
                           "(give a new folder, e.g. RUN/training_dynamics)")
    atomic.refuse_existing_dir(out, overwrite, "--out")
    if out.is_dir():  # --overwrite replaces only a folder of jsonl files an export wrote
        foreign = sorted(p.name for p in out.iterdir() if not re.fullmatch(r"dynamics_epoch_\d+\.jsonl", p.name)
                         or not p.is_file())
        if foreign:
            raise DatamapError(f"--out {out}: holds files export-dynamics did not write ({', '.join(foreign[:3])}"
                               f"{', ...' if len(foreign) > 3 else ''}); --overwrite replaces only an earlier export: "
                               "move them or choose another --out")
    dyn = read_dynamics(rd.dynamics)
    tmp = atomic.temp_dir(out)
    try:
        (tmp / PARTIAL_MARKER).write_text("export in progress\n", encoding="utf-8")
        names = [p.name for p in write_jsonl(dyn, tmp)]
        (tmp / PARTIAL_MARKER).unlink()
        atomic.replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return [out / n for n in names]
