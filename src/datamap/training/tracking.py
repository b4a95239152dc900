"""Experiment trackers through Accelerate (``datamap train --report-to tensorboard``; wandb, mlflow).

:class:`RunTracker` logs, from the main process only (Accelerate's trackers):

- every :data:`LOG_EVERY` optimizer steps: ``step/loss`` (the batch's loss), ``step/lr`` and
  ``step/examples_per_s`` (since the epoch began), at the global step (1-based);
- after every epoch, at step = the epoch number (1-based, as on the console): ``epoch/train_loss``,
  ``epoch/examples_per_s``, ``epoch/seconds`` and, per evaluation set, ``eval/<set>/accuracy`` (and
  ``eval/<set>/loss``);
- once, the run's configuration as hyperparameters.

TensorBoard's event files go to ``RUN/tracking/train/``. Without ``--report-to`` nothing here runs and
the training loop is unchanged (no extra device syncs).
"""

from __future__ import annotations

import importlib.util
import json
from typing import Any, Sequence

from datamap.errors import DatamapError

#: tracker name -> the module it needs (and the pip package of the same name)
TRACKERS = {"tensorboard": "tensorboard", "wandb": "wandb", "mlflow": "mlflow"}
#: steps between two step-level logs
LOG_EVERY = 10
PROJECT = "train"


def check_trackers(names: Sequence[str]) -> list[str]:
    """The tracker names, each checked to be known and installed (one-line DatamapError otherwise)."""
    out = []
    for name in names:
        if name not in TRACKERS:
            raise DatamapError(f"--report-to {name}: unknown tracker (choose from {', '.join(TRACKERS)})")
        module = TRACKERS[name]
        if importlib.util.find_spec(module) is None:
            raise DatamapError(f"--report-to {name}: the {module} package is not installed "
                               f"(pip install {module}, or pip install 'datamap[tracking]' for tensorboard)")
        if name not in out:
            out.append(name)
    return out


def flat_config(config: dict, prefix: str = "") -> dict[str, Any]:
    """A nested configuration as ``{"a.b": value}`` with values trackers accept (None -> "none", lists as JSON)."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flat_config(value, name + "."))
        elif value is None:
            out[name] = "none"
        elif isinstance(value, (list, tuple)):
            out[name] = json.dumps(list(value))
        else:
            out[name] = value if isinstance(value, (bool, int, float, str)) else str(value)
    return out


class RunTracker:
    """Logging to the trackers of an Accelerator built with ``log_with`` (see the module's docstring).

    Parameters
    ----------
    accelerator : accelerate.Accelerator
        Built with ``log_with=names`` and ``project_dir=RUN/tracking`` (or without trackers: then
        every method does nothing).
    names : sequence of str
        The trackers (empty: off).
    config : dict
        The run's resolved configuration (logged once as hyperparameters).
    """

    def __init__(self, accelerator, names: Sequence[str], config: dict):
        self.accelerator = accelerator
        self.on = bool(names)
        if self.on:
            accelerator.init_trackers(PROJECT, config=flat_config(config))

    def due(self, global_step: int) -> bool:
        """Whether ``global_step`` (1-based) gets a step-level log."""
        return self.on and global_step % LOG_EVERY == 0

    def log_step(self, global_step: int, loss: float, lr: float, examples_per_s: float) -> None:
        self.accelerator.log({"step/loss": loss, "step/lr": lr, "step/examples_per_s": examples_per_s}, step=global_step)

    def log_epoch(self, entry: dict) -> None:
        """One ``history.json`` entry (0-based ``epoch``), logged at step ``epoch + 1``."""
        if not self.on:
            return
        values = {"epoch/train_loss": entry["train_loss"], "epoch/examples_per_s": entry["examples_per_s"],
                  "epoch/seconds": entry["seconds"]}
        for name, scores in entry.get("eval", {}).items():
            for key, value in scores.items():
                values[f"eval/{name}/{key}"] = value
        self.accelerator.log(values, step=int(entry["epoch"]) + 1)

    def end(self) -> None:
        if self.on:
            self.accelerator.end_training()
