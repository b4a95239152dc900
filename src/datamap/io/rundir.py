"""The run directory: the contract between stages (see docs/run-directory.md).

Every stage reads the files of the stages before it from ``runs/<name>/`` and writes its own.
:class:`RunDir` names those files in one place and checks that inputs exist.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from datamap.errors import DatamapError


@dataclass(frozen=True)
class RunDir:
    root: Path

    def __init__(self, root: str | os.PathLike):
        object.__setattr__(self, "root", Path(root))

    # files of the contract
    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    @property
    def data(self) -> Path:
        return self.root / "data.parquet"

    @property
    def labels(self) -> Path:
        return self.root / "labels.json"

    @property
    def dynamics(self) -> Path:
        return self.root / "dynamics.parquet"

    @property
    def dynamics_dir(self) -> Path:
        """``dynamics/``: one ``epoch_{e}.parquet`` per finished epoch while a run trains."""
        return self.root / "dynamics"

    @property
    def checkpoint(self) -> Path:
        """``checkpoint/``: the training state after the last finished epoch (``train --resume``)."""
        return self.root / "checkpoint"

    @property
    def manifest(self) -> Path:
        """``manifest.json``: the run's state (complete or not) and content hashes of its inputs."""
        return self.root / "manifest.json"

    def dynamics_source(self) -> Path:
        """The dynamics to read: ``dynamics.parquet`` if present, else the per-epoch folder if present.

        Returns ``dynamics.parquet``'s path when neither exists (so a message can name it).
        """
        if not self.dynamics.exists() and self.dynamics_dir.is_dir():
            return self.dynamics_dir
        return self.dynamics

    @property
    def jsonl_dir(self) -> Path:
        return self.root / "training_dynamics"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.parquet"

    @property
    def regions_json(self) -> Path:
        return self.root / "three_regions_data_indices.json"

    @property
    def history(self) -> Path:
        return self.root / "history.json"

    @property
    def map_png(self) -> Path:
        return self.root / "map.png"

    @property
    def map_html(self) -> Path:
        return self.root / "map.html"

    @property
    def report(self) -> Path:
        return self.root / "report.html"

    @property
    def model(self) -> Path:
        return self.root / "model"

    @property
    def selections(self) -> Path:
        return self.root / "selections"

    @property
    def eval_dir(self) -> Path:
        return self.root / "eval"

    @property
    def embeddings(self) -> Path:
        return self.root / "embeddings.parquet"

    @property
    def clusters(self) -> Path:
        return self.root / "clusters.parquet"

    @property
    def centroids(self) -> Path:
        return self.root / "clusters.centroids.parquet"

    @property
    def map_embedding_html(self) -> Path:
        return self.root / "map_embedding.html"

    @property
    def threshold_samples(self) -> Path:
        """``threshold_samples.parquet``: the examples ``train --threshold-samples`` gave the fake class."""
        return self.root / "threshold_samples.parquet"

    @property
    def heldout(self) -> Path:
        """``heldout.parquet``: the rows ``train --eval-split auto`` held out of a single-file dataset."""
        return self.root / "heldout.parquet"

    @property
    def label_issues(self) -> Path:
        """``label_issues.parquet``: ``datamap errors``'s ranking of likely mislabeled examples."""
        return self.root / "label_issues.parquet"

    def selection(self, name: str) -> Path:
        return self.selections / f"{name}.json"

    def eval_scores(self, name: str) -> Path:
        return self.eval_dir / f"{name}.json"

    def eval_predictions(self, name: str) -> Path:
        return self.eval_dir / f"{name}.parquet"

    def require(self, *paths: Path, hint: str = "") -> None:
        """Stop with a clear message if the run directory or any of ``paths`` is missing.

        Asking for the dynamics or the metrics also checks the manifest (:meth:`require_complete`).

        Parameters
        ----------
        *paths : Path
            Files of this run that must exist.
        hint : str, default ""
            What to do about a missing file (added to the message).
        """
        if not self.root.is_dir():
            raise DatamapError(f"{self.root}: run directory not found")
        if self.dynamics in paths or self.metrics in paths:
            self.require_complete(metrics=self.metrics in paths)
        for p in paths:
            if not p.exists():
                extra = f" ({hint})" if hint else ""
                raise DatamapError(f"{p}: missing from the run directory{extra}")

    def source_columns(self) -> dict[str, str]:
        """``labels.json``'s ``source_columns`` (canonical column -> the dataset's own name), or {} when absent."""
        import json

        try:
            cols = json.loads(self.labels.read_text(encoding="utf-8")).get("source_columns")
        except (OSError, ValueError, AttributeError):
            return {}
        return {k: v for k, v in cols.items() if isinstance(v, str)} if isinstance(cols, dict) else {}

    def read_config(self, required: bool = False) -> dict:
        """``config.yaml`` (the training options) as a dict: ``{}`` when the file is absent (a
        :class:`DatamapError` when ``required``); a file that is not a YAML mapping is an error naming it."""
        from datamap.io.yamlsafe import load_yaml_file

        if not self.config.is_file():
            if required:
                raise DatamapError(f"{self.config}: not found (a run written by datamap train)")
            return {}
        data = load_yaml_file(self.config)
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise DatamapError(f"{self.config}: not a mapping of options")
        return data

    def write_label_issues(self, table, meta: dict) -> Path:
        """Write ``label_issues.parquet`` (``datamap errors``): ``table`` (a pandas frame, sorted by rank) with
        ``meta`` (method, cut, counts) as the JSON schema metadata ``datamap``; atomically."""
        import pyarrow as pa

        from datamap.io import atomic

        arrow = pa.Table.from_pandas(table, preserve_index=False)
        arrow = arrow.replace_schema_metadata({**(arrow.schema.metadata or {}), b"datamap": json.dumps(meta).encode()})
        atomic.write_table(self.label_issues, arrow)
        return self.label_issues

    def read_label_issues(self, columns: Sequence[str] | None = None, hint: str = "run `datamap errors` first"):
        """``label_issues.parquet`` and its metadata: ``(frame, meta)``, the frame in the file's order (by rank).

        The one reader of the file (select, relabel, weights, the report and the HTML map use it). A file whose
        metadata is not a JSON object, with an id twice or a rank below 1 is a one-line error naming it.
        """
        import pyarrow.parquet as pq

        from datamap.io.readers import read_parquet

        path = self.label_issues
        self.require(path, hint=hint)
        issues = read_parquet(path, columns=list(columns) if columns is not None else None)
        try:
            meta = json.loads((pq.read_schema(path).metadata or {}).get(b"datamap", b"{}"))
        except ValueError as exc:
            raise DatamapError(f"{path}: schema metadata 'datamap' is not JSON ({exc})") from None
        if not isinstance(meta, dict):
            raise DatamapError(f"{path}: schema metadata 'datamap' is not a JSON object")
        if "id" in issues.columns:
            ids = issues["id"].astype(str)
            if ids.duplicated().any():
                raise DatamapError(f"{path}: id '{ids[ids.duplicated()].iloc[0]}' occurs more than once")
        if "rank" in issues.columns:
            ranks = issues["rank"].astype("Int64")
            if (ranks.fillna(1) < 1).any():
                raise DatamapError(f"{path}: rank {ranks[ranks.fillna(1) < 1].iloc[0]} is below 1")
        return issues, meta

    @property
    def ensemble(self) -> Path:
        """``ensemble.json``: the members and weights of ``datamap ensemble`` writing into this folder."""
        return self.root / "ensemble.json"

    def write_ensemble(self, description: dict) -> Path:
        from datamap.io import atomic

        atomic.write_json(self.ensemble, description)
        return self.ensemble

    def read_ensemble(self) -> dict:
        """``ensemble.json`` as a dict (``{}`` without the file); a file that is not a JSON object is an error."""
        data = _json_object(self.ensemble)
        if data is None:
            raise DatamapError(f"{self.ensemble}: not a JSON object")
        return data

    def label_names(self) -> list[str]:
        """Class names in id order, from labels.json."""
        self.require(self.labels)
        try:
            names = json.loads(self.labels.read_text(encoding="utf-8"))["names"]
        except (ValueError, KeyError, TypeError) as exc:
            raise DatamapError(f"{self.labels}: not a valid label map ({exc})") from exc
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise DatamapError(f"{self.labels}: 'names' must be a list of strings")
        return names

    def derived_files(self) -> tuple[list[Path], list[Path]]:
        """(files, folders) of the contract that a new run in this folder replaces."""
        files = [self.manifest, self.config, self.data, self.labels, self.dynamics, self.history, self.metrics,
                 self.metrics_json, self.regions_json, self.map_png, self.map_html, self.report,
                 self.embeddings, self.clusters, self.centroids, self.map_embedding_html,
                 self.threshold_samples, self.label_issues, self.heldout]
        return files, [self.jsonl_dir, self.selections, self.eval_dir, self.model, self.dynamics_dir, self.checkpoint,
                       self.tracking]

    @property
    def tracking(self) -> Path:
        """``tracking/``: the event files of ``train --report-to tensorboard``."""
        return self.root / "tracking"

    @property
    def metrics_json(self) -> Path:
        return self.root / "metrics.json"

    def clear(self) -> None:
        """Remove the files of an earlier run in this folder (everything in the contract).

        Refuses a folder holding symbolic links among those paths (removing through them would reach
        outside the run); ``model/`` and ``checkpoint/`` go only when the manifest says
        ``datamap train`` wrote them (a user's own ``model/`` folder stays).
        """
        self.check_no_links()
        man = self.read_manifest()
        ours = isinstance(man, dict) and man.get("stage") == "train"
        self.remove_temporaries()
        files, folders = self.derived_files()
        for path in files:
            path.unlink(missing_ok=True)
        for folder in folders:
            if folder in (self.model, self.checkpoint) and not ours:
                continue
            shutil.rmtree(folder, ignore_errors=True)

    def check_no_links(self) -> None:
        """Stop (one line) if a file or folder of the contract in this run is a symbolic link."""
        files, folders = self.derived_files()
        for path in (*files, *folders):
            if path.is_symlink():
                raise DatamapError(f"{path}: is a symbolic link; datamap writes only real files and folders inside "
                                   f"a run (writing through it would reach {os.path.realpath(path)})")
        for folder in folders:
            if folder.is_dir():
                for sub in folder.rglob("*"):
                    if sub.is_symlink():
                        raise DatamapError(f"{sub}: is a symbolic link; datamap writes only real files and folders "
                                           f"inside a run (writing through it would reach {os.path.realpath(sub)})")

    def start(self, config: dict, data, label_names: Sequence[str]) -> None:
        """Write a new run's first files: ``config.yaml``, ``data.parquet`` and ``labels.json``.

        Parameters
        ----------
        config : dict
            The resolved configuration (YAML-safe values).
        data : pandas.DataFrame
            Exactly what is trained on: ``id``, text column(s), ``label``, ``label_name``...
        label_names : sequence of str
            Class names in id order.
        """
        import yaml

        from datamap.io import atomic

        self.root.mkdir(parents=True, exist_ok=True)
        atomic.write_text(self.config, yaml.safe_dump(config, sort_keys=False))
        atomic.write_table(self.data, data)
        labels: dict = {"names": list(label_names)}
        if data.attrs.get("source_columns"):  # set by datamap.io.data.prepare
            labels["source_columns"] = dict(data.attrs["source_columns"])
        atomic.write_json(self.labels, labels)


    # ------------------------------------------------------------------ the manifest

    def read_manifest(self) -> dict | None:
        """``manifest.json`` as a dict, or None for runs without one (older runs, ``import-dynamics``)."""
        if not self.manifest.exists():
            return None
        try:
            data = json.loads(self.manifest.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise DatamapError(f"{self.manifest}: not valid JSON ({exc})") from None
        if not isinstance(data, dict):
            raise DatamapError(f"{self.manifest}: not a JSON object")
        return data

    def write_manifest(self, **fields) -> dict:
        """Update ``manifest.json`` with ``fields`` (atomically; a None value removes the key).

        Parameters
        ----------
        **fields
            Keys to set, e.g. ``stage="train"``, ``status="complete"``, ``epochs_written=2``.
        """
        from datamap.io import atomic

        data = self.read_manifest() or {}
        for key, value in fields.items():
            if value is None:
                data.pop(key, None)
            else:
                data[key] = value
        atomic.write_json(self.manifest, data)
        return data

    def require_complete(self, metrics: bool = False) -> None:
        """Stop (one line naming the file) if the manifest says training is unfinished or inputs changed.

        Checks that ``status`` is ``complete``, that ``data.parquet`` and ``config.yaml`` still
        have the sha256 the manifest recorded, and with ``metrics`` that the metrics files are the
        set the last ``datamap metrics`` wrote (an interrupted one can leave a mix). Runs without
        a manifest pass.

        Parameters
        ----------
        metrics : bool, default False
            Also check ``metrics.parquet``, ``metrics.json`` and ``three_regions_data_indices.json``.
        """
        man = self.read_manifest()
        if man is None:
            return
        if man.get("status", "complete") != "complete":
            done, total = man.get("epochs_written", 0), man.get("epochs", "?")
            raise DatamapError(
                f"{self.root}: training incomplete ({done} of {total} epochs); run datamap train --resume --out {self.root}"
            )
        for key, path in (("data_sha256", self.data), ("config_sha256", self.config)):
            if key in man and path.exists() and file_sha256(path) != man[key]:
                raise DatamapError(f"{path}: changed since training (sha256 differs from {self.manifest.name})")
        if metrics and isinstance(man.get("metrics"), dict):
            for name, digest in man["metrics"].items():
                path = self.root / name
                if not path.exists() or file_sha256(path) != digest:
                    raise DatamapError(
                        f"{path}: not the file the last `datamap metrics` wrote (interrupted?); run datamap metrics {self.root}"
                    )

    def remove_temporaries(self, names: Sequence[str] | None = None) -> list[Path]:
        """Remove temporary files and folders a killed command left (``.NAME.*.tmp``, ``.checkpoint.*``).

        Parameters
        ----------
        names : sequence of str or None, default None
            Only the temporaries of these final names (e.g. ``["metrics.parquet"]``); None: every
            temporary in the run folder and its ``dynamics/`` and ``eval/`` folders.
        """
        old = self.root / ".checkpoint.old"
        if old.is_dir() and not self.checkpoint.exists():
            os.replace(old, self.checkpoint)  # killed while swapping checkpoints: the old one is the last
        removed = []
        for folder in (self.root, self.dynamics_dir, self.eval_dir):
            if not folder.is_dir():
                continue
            for p in folder.iterdir():
                if not p.name.startswith("."):
                    continue
                if names is not None and not any(p.name.startswith(f".{n}.") for n in names):
                    continue
                if p.is_file() and (p.name.endswith(".tmp")):
                    p.unlink(missing_ok=True)
                elif p.is_dir() and p.name.startswith(".checkpoint.") and folder == self.root:
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    continue
                removed.append(p)
        return removed


TASKS = ("classify", "sft")


def run_task(run: "str | os.PathLike") -> str:
    """``"sft"`` or ``"classify"``: the task of a run directory.

    ``config.yaml``'s ``task`` when it names one, else the kind of its dynamics
    (:func:`datamap.io.store.dynamics_kind`), else ``"classify"``.
    """
    rd = run if isinstance(run, RunDir) else RunDir(run)
    task = rd.read_config().get("task")
    if task in TASKS:
        return task
    source = rd.dynamics_source()
    if source.exists():
        from datamap.io.store import dynamics_kind

        return dynamics_kind(source)
    return "classify"


def refuse_sft(run: "str | os.PathLike", what: str) -> None:
    """Stop (one line) when ``run`` is an sft run: ``what`` (e.g. ``"datamap errors"``) needs classes."""
    rd = run if isinstance(run, RunDir) else RunDir(run)
    if rd.root.is_dir() and run_task(rd) == "sft":
        raise DatamapError(f"{rd.root}: is an sft run (task: sft, token losses, no classes); {what} needs a classifier run")


def file_sha256(path: "str | os.PathLike") -> str:
    """Hex sha256 of a file's bytes (read in 1 MiB blocks).

    Parameters
    ----------
    path : path
        The file.
    """
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_regions(run: "str | os.PathLike", ids: Sequence[str]) -> dict[str, np.ndarray]:
    """Regions and entropies of an earlier run, aligned with another run's training rows.

    Parameters
    ----------
    run : path
        The earlier run directory (its ``metrics.parquet``, written by ``datamap metrics``), or
        the parquet file itself.
    ids : sequence of str
        The ``id`` column of the new run's data.parquet, in row order.

    Returns ``{"region": object array of str, "entropy": float64 array}`` in the order of ``ids``.
    Every id must be in the earlier run's metrics (DatamapError naming the first missing one).
    """
    import pandas as pd

    path = Path(run)
    if path.is_dir():
        path = RunDir(path).metrics
    if not path.is_file():
        raise DatamapError(f"--dynamics-from: {path} not found (run `datamap metrics` on that run first)")
    try:
        frame = pd.read_parquet(path, columns=["id", "region", "entropy"])
    except Exception as exc:  # missing column or unreadable file
        raise DatamapError(f"--dynamics-from: cannot read columns id, region, entropy from {path}: {exc}") from None
    frame["id"] = frame["id"].astype(str)
    if frame["id"].duplicated().any():
        raise DatamapError(f"--dynamics-from: {path} has duplicate id {frame['id'][frame['id'].duplicated()].iloc[0]!r}")
    frame = frame.set_index("id")
    ids = pd.Index([str(i) for i in ids])
    missing = ~ids.isin(frame.index)
    if missing.any():
        raise DatamapError(
            f"--dynamics-from: {int(missing.sum())} training ids are not in {path}, e.g. {ids[missing][0]!r}"
        )
    frame = frame.loc[ids]
    return {"region": frame["region"].astype(str).to_numpy(dtype=object), "entropy": frame["entropy"].to_numpy(dtype=np.float64)}


def _json_object(path: Path) -> dict | None:
    """The JSON object in ``path``: ``{}`` when the file is absent, None when it is not a readable JSON object."""
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


#: an experiment folder's record of its finished stages (``datamap run``): stage id -> inputs' hash, outputs
STAGES_FILE = "stages.json"


def read_stage_markers(folder: str | os.PathLike) -> dict:
    """``FOLDER/stages.json`` as a dict; ``{}`` when absent or unreadable (every stage of the folder then runs again)."""
    return _json_object(Path(folder) / STAGES_FILE) or {}


def write_stage_marker(folder: str | os.PathLike, sid: str, entry: dict | None) -> None:
    """Record (or, with ``entry=None``, forget) stage ``sid`` in ``FOLDER/stages.json``, atomically."""
    from datamap.io import atomic

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    data = read_stage_markers(folder)
    if entry is None:
        data.pop(sid, None)
    else:
        data[sid] = entry
    atomic.write_json(folder / STAGES_FILE, data)
