"""The training configuration: every option of ``datamap train``, saved as RUN/config.yaml."""

from __future__ import annotations

from dataclasses import dataclass, field

from datamap.errors import DatamapError

RECORD_MODES = ("inflight", "epoch_end", "none")


@dataclass
class TrainConfig:
    """Everything a training run needs; saved as RUN/config.yaml."""

    dataset: str
    model: str = "minilm"
    out: str = "runs/run"
    split: str = "train"
    eval_split: str | None = "auto"  # "auto": validation if it exists; None: no in-domain eval
    eval_datasets: list[str] = field(default_factory=list)  # extra eval sets: NAME[:SPLIT] or files
    text_column: str | None = None
    text_pair_column: str | None = None
    label_column: str = "label"
    id_column: str | None = None
    drop_empty: bool = False
    limit: int | None = None
    limit_mode: str = "first"  # first | random
    limit_seed: int = 0  # seed of --limit-mode random (independent of --seed, so seeds share a subset)
    subset: str | None = None  # selection JSON (ids) to train on
    epochs: int = 3
    batch_size: int = 32
    eval_batch_size: int = 128
    lr: float = 2e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    max_grad_norm: float = 1.0
    max_length: int = 128
    seed: int = 42
    record: str = "inflight"
    export_jsonl: bool = False
    freeze_base: bool = False
    precision: str = "auto"  # auto (bf16 on a GPU that has it) | bf16 | fp32
    save_model: bool = True
    overwrite: bool = False  # replace an existing run in `out` (its derived files are removed)
    trust_remote_code: bool = False
    loss: str = "ce"  # ce | focal:GAMMA[,ALPHA]
    # mixup (see datamap.training.mixup): site embeddings | pooled | hidden, or None
    mixup: str | None = None
    mixup_pairing: str = "reverse"
    mixup_lambda: str = "beta:0.4"
    mixup_lambda_per: str = "example"
    mixup_mode: str = "mixed+original"
    mixup_start_epoch: int = 0
    mixup_ratio: float = 1.0
    dynamics_from: str | None = None  # earlier run whose regions/entropies drive pairing or --drop-hard
    drop_hard: bool = False

    def validate(self) -> None:
        if self.record not in RECORD_MODES:
            raise DatamapError(f"--record must be one of {', '.join(RECORD_MODES)}, got '{self.record}'")
        if self.epochs < 1:
            raise DatamapError(f"--epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 1:
            raise DatamapError(f"--batch-size must be >= 1, got {self.batch_size}")
        if self.limit is not None and self.limit < 1:
            raise DatamapError(f"--limit must be >= 1, got {self.limit}")
        if self.limit_mode not in ("first", "random"):
            raise DatamapError(f"--limit-mode must be 'first' or 'random', got '{self.limit_mode}'")
        if self.precision not in ("auto", "bf16", "fp32"):
            raise DatamapError(f"--precision must be auto, bf16 or fp32, got '{self.precision}'")
        if not self.lr > 0:
            raise DatamapError(f"--lr must be > 0, got {self.lr}")
