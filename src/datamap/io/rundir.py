"""The run directory: the contract between stages (see docs/run-directory.md).

Every stage reads the files of the stages before it from ``runs/<name>/`` and writes its own.
:class:`RunDir` names those files in one place and checks that inputs exist.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

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
