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

    def selection(self, name: str) -> Path:
        return self.selections / f"{name}.json"

    def eval_scores(self, name: str) -> Path:
        return self.eval_dir / f"{name}.json"

    def eval_predictions(self, name: str) -> Path:
        return self.eval_dir / f"{name}.parquet"

    def require(self, *paths: Path, hint: str = "") -> None:
        """Stop with a clear message if the run directory or any of ``paths`` is missing."""
        if not self.root.is_dir():
            raise DatamapError(f"{self.root}: run directory not found")
        for p in paths:
            if not p.exists():
                extra = f" ({hint})" if hint else ""
                raise DatamapError(f"{p}: missing from the run directory{extra}")

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
        files = [self.config, self.data, self.labels, self.dynamics, self.history, self.metrics,
                 self.metrics_json, self.regions_json, self.map_png, self.map_html, self.report,
                 self.embeddings, self.clusters, self.centroids, self.map_embedding_html]
        return files, [self.jsonl_dir, self.selections, self.eval_dir, self.model]

    @property
    def metrics_json(self) -> Path:
        return self.root / "metrics.json"

    def clear(self) -> None:
        """Remove the files of an earlier run in this folder (everything in the contract)."""
        files, folders = self.derived_files()
        for path in files:
            path.unlink(missing_ok=True)
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)

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
        atomic.write_json(self.labels, {"names": list(label_names)})


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
