"""The embed stage: one vector per example of a run's training set (or of a dataset), written to
``RUN/embeddings.parquet`` (see :mod:`datamap.io.embeddings`)."""

from __future__ import annotations

import os
from pathlib import Path

from datamap.errors import DatamapError
from datamap.io.atomic import refuse_existing
from datamap.io.rundir import RunDir


def is_run(path: str | os.PathLike) -> bool:
    """A run directory: a folder holding ``data.parquet`` or a ``model/`` folder."""
    rd = RunDir(path)
    return rd.root.is_dir() and (rd.data.is_file() or (rd.model / "config.json").is_file())


def embed(
    run_or_model: str,
    *,
    dataset: str | None = None,
    split: str = "train",
    out: str | os.PathLike | None = None,
    model: str | None = None,
    pooling: str | None = None,
    dtype: str = "float32",
    batch_size: int = 128,
    max_length: int = 128,
    overwrite: bool = False,
    columns: dict | None = None,
    trust_remote_code: bool = False,
    progress: bool = True,
) -> tuple[Path, int, dict]:
    """Embed a run's training rows (``RUN/data.parquet``) or a dataset, and write the Parquet file.

    Parameters
    ----------
    run_or_model : str
        A run directory (its ``model/`` and ``data.parquet`` are used), or a model (folder, hub name,
        ``minilm``) together with ``dataset``.
    dataset, split : str
        Embed this dataset split instead of the run's training rows (ids as ``datamap train``
        gives them). Needs ``out``.
    out : path or None
        Output file; default ``RUN/embeddings.parquet``.
    model : str or None
        Embed with this model instead of the run's own (e.g. ``minilm`` for the pretrained encoder).
    pooling, dtype, batch_size, max_length, trust_remote_code
        See :func:`datamap.training.embed.embed_frame`; ``dtype`` is the stored type
        (``float32`` or ``float16``).
    overwrite : bool, default False
        Replace an existing output file.
    columns : dict or None
        ``text_column``, ``text_pair_column``, ``label_column``, ``id_column`` for ``dataset``.

    Returns ``(path, rows, metadata)``; under ``accelerate launch`` only the main process writes.
    """
    import pandas as pd
    from accelerate import PartialState

    from datamap.io.embeddings import DTYPES, write_embeddings
    from datamap.training.embed import embed_frame

    run = RunDir(run_or_model) if is_run(run_or_model) else None
    if run is None and model is not None:
        raise DatamapError(f"{run_or_model}: not a run directory (no data.parquet or model/); --model only goes with a run")
    if dtype not in DTYPES:
        raise DatamapError(f"--dtype {dtype!r}: choose one of {', '.join(DTYPES)}")
    if out is None:
        if run is None:
            raise DatamapError(f"{run_or_model}: not a run directory; pass --out FILE to say where to write the embeddings")
        if dataset is not None:
            raise DatamapError(f"--dataset {dataset}: pass --out FILE ({run.root / 'embeddings.parquet'} holds the run's own rows)")
        out = run.root / "embeddings.parquet"
    out = Path(out)
    refuse_existing(out, overwrite)

    if model is None:
        if run is not None:
            run.require(run.model, hint="trained with --no-save-model? pass --model MODEL to embed with another model")
            model = str(run.model)
        else:
            model = run_or_model
    if dataset is not None:
        from datamap.io.data import load_dataset

        frame, _, source = load_dataset(dataset, split, **(columns or {}))
    elif run is not None:
        run.require(run.data)
        frame, source = pd.read_parquet(run.data), str(run.data)
        for col in ("id", "text"):
            if col not in frame.columns:
                raise DatamapError(f"{run.data}: missing column {col!r}")
        frame["id"] = frame["id"].astype(str)
    else:
        raise DatamapError(f"{run_or_model}: not a run directory; pass --dataset to say what to embed")

    vectors, info = embed_frame(frame, model, pooling=pooling, batch_size=batch_size, max_length=max_length,
                                trust_remote_code=trust_remote_code, progress=progress)
    meta = {**info, "source": source if dataset is not None else "data.parquet", "n": int(len(frame))}
    if PartialState().is_main_process:
        out.parent.mkdir(parents=True, exist_ok=True)
        write_embeddings(out, frame["id"].tolist(), vectors, meta, dtype=dtype)
    PartialState().wait_for_everyone()
    return out, len(frame), meta
