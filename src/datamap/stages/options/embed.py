"""``datamap embed``: its options; ``model`` and ``pooling`` are also keys of the YAML runner's
``cartography.clusters`` section (with :class:`~datamap.stages.options.cluster.ClusterOptions`'s)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from datamap.io.embeddings import DTYPES
from datamap.stages.options.base import Options, option
from datamap.stages.options.checks import choice
from datamap.training.config import Pooling, TrainConfig


def _train(name: str) -> Any:
    """The training config's default of a data/tokenizer field: embed reads the rows as train does."""
    return TrainConfig.model_fields[name].get_default(call_default_factory=True)


# the options that are no keys of cartography.clusters: the runner embeds the cartography run's own rows
# (its data, columns and max_length) into RUN/embeddings.parquet
_RUN = {"yaml": False}


class EmbedOptions(Options):
    """One embedding per example of a run or a dataset (:func:`datamap.stages.embed.embed`)."""

    command = "embed"
    section_path = "cartography.clusters"

    dataset: Optional[str] = option(
        None, "Embed this dataset instead of the run's training rows (needs --out).", **_RUN)
    split: str = option(_train("split"), **_RUN)
    out: Optional[Path] = option(None, "Output file (default RUN/embeddings.parquet).", **_RUN)
    model: Optional[str] = option(None, "Embed a run's rows with this model instead of RUN/model (e.g. minilm).")
    pooling: Optional[str] = option(
        None, "cls (first token, last layer; not on decoders), mean (over the attention mask), last (last non-pad "
              "token) or pooler (the model's pooler output). Default: last for decoders, mean otherwise.")
    dtype: str = option(DTYPES[0], "Stored type: float32 or float16.", **_RUN)
    batch_size: int = option(128, ge=1, **_RUN)
    max_length: int = option(_train("max_length"), ge=1, **_RUN)
    text_column: Optional[str] = option(_train("text_column"), **_RUN)
    text_pair_column: Optional[str] = option(_train("text_pair_column"), **_RUN)
    label_column: str = option(_train("label_column"), **_RUN)
    id_column: Optional[str] = option(_train("id_column"), **_RUN)
    trust_remote_code: bool = option(_train("trust_remote_code"), **_RUN)

    _pooling = choice(Pooling.values(), "pooling")
    _dtype = choice(DTYPES, "dtype")

    def columns(self) -> dict:
        """The ``columns`` argument of :func:`datamap.stages.embed.embed` (of a ``--dataset``)."""
        return self.kwargs("text_column", "text_pair_column", "label_column", "id_column")
