"""What ``train`` checks about ``--out`` before it loads anything: nothing of the user's is lost.

- a symbolic link among the run's files or folders is refused (``--overwrite`` would follow it);
- ``model/`` or ``checkpoint/`` that no ``datamap train`` wrote are refused, with or without
  ``--overwrite`` (``--overwrite`` removes only what datamap writes);
- with ``--overwrite``, an input of the command (``--dataset``, ``--subset``, ``--model``,
  ``--dynamics-from``, ``--eval-dataset``) inside ``--out`` is refused (clearing would delete it);
- ``--resume`` checks the checkpoint against the manifest: ``config.yaml`` and ``data.parquet``
  unchanged (sha256), ``checkpoint/state.json``'s epoch in range and equal to the manifest's
  count, the epoch files of every finished epoch present.
"""

from __future__ import annotations

from pathlib import Path

from datamap.errors import DatamapError
from datamap.io.rundir import RunDir, file_sha256
from datamap.training.config import TrainConfig


def check_out(run: RunDir, cfg: TrainConfig, manifest: dict | None, resume: bool) -> None:
    """Stop with one line if writing the run ``run`` could lose or mix the user's files (see the module)."""
    if not run.root.is_dir():
        return
    run.check_no_links()
    ours = manifest is not None and manifest.get("stage") == "train"
    for folder in (run.model, run.checkpoint):
        if folder.exists() and not ours:
            raise DatamapError(f"{folder}: a folder that datamap train did not write (no training manifest in "
                               f"{run.root}); move it away or choose another --out (--overwrite never removes it)")
    if cfg.overwrite and not resume:
        root = run.root.resolve()
        named = [("--dataset", cfg.dataset), ("--subset", cfg.subset), ("--model", cfg.model),
                 ("--dynamics-from", cfg.dynamics_from), *(("--eval-dataset", e.partition(":")[0]) for e in cfg.eval_datasets)]
        for flag, value in named:
            if value and Path(value).exists() and Path(value).resolve().is_relative_to(root):
                raise DatamapError(f"{flag} {value}: lies inside --out {run.root}, which --overwrite clears; "
                                   "copy it elsewhere first or choose another --out")
    if resume:
        check_resumable(run, cfg, manifest or {})


def check_resumable(run: RunDir, cfg: TrainConfig, manifest: dict) -> None:
    """Stop unless the run's checkpoint, epoch files and inputs agree with its manifest."""
    from datamap.training.checkpoint import read_checkpoint_state

    for key, path in (("config_sha256", run.config), ("data_sha256", run.data)):
        if key in manifest and (not path.is_file() or file_sha256(path) != manifest[key]):
            raise DatamapError(f"{path}: changed since training started (sha256 differs from {run.manifest.name}); "
                               f"--resume continues the run as it began: restore the file, or start again with --overwrite")
    state = read_checkpoint_state(run)
    if state is None:
        return
    epoch, written = state.get("epoch") if isinstance(state, dict) else None, manifest.get("epochs_written")
    where = run.checkpoint / "state.json"
    if not isinstance(epoch, int) or isinstance(epoch, bool) or not 0 <= epoch < cfg.epochs:
        raise DatamapError(f"{where}: epoch {epoch!r} is not a finished epoch of this {cfg.epochs}-epoch run; "
                           f"start again with datamap train --overwrite --out {run.root}")
    # the manifest's count is written just after the checkpoint is swapped in: a kill between the two leaves it
    # one behind, with everything of the epoch on disk (the epoch's file is written before the checkpoint)
    if isinstance(written, int) and written not in (epoch + 1, epoch):
        raise DatamapError(f"{where}: says epoch {epoch + 1} finished, {run.manifest.name} says {written}; "
                           f"start again with datamap train --overwrite --out {run.root}")
    if cfg.record != "none" and not run.dynamics.exists():
        missing = [e for e in range(epoch + 1) if not (run.dynamics_dir / f"epoch_{e}.parquet").is_file()]
        if missing:
            raise DatamapError(f"{run.dynamics_dir / f'epoch_{missing[0]}.parquet'}: missing, though {where} says "
                               f"epoch {epoch + 1} finished; start again with datamap train --overwrite --out {run.root}")
        for e in range(epoch + 1):
            _readable(run.dynamics_dir / f"epoch_{e}.parquet", run, _parquet_ok)
    _readable(run.checkpoint / "model.safetensors", run, _safetensors_ok)


def _parquet_ok(path: Path) -> None:
    import pyarrow.parquet as pq

    pq.read_metadata(path)


def _safetensors_ok(path: Path) -> None:
    from safetensors import safe_open

    with safe_open(str(path), "pt"):
        pass


def _readable(path: Path, run: RunDir, check) -> None:
    """Stop (one line) when ``path`` exists but is truncated or corrupt (``check`` raises on it)."""
    if not path.is_file():
        return
    try:
        check(path)
    except Exception as exc:  # pyarrow and safetensors raise their own types for a truncated file
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DatamapError(f"{path}: truncated or corrupt ({first[:160]}); cannot resume: start again with "
                           f"datamap train --overwrite --out {run.root}") from None
