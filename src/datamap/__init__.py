"""datamap: training dynamics for transformer text classifiers.

Record per-example logits while fine-tuning, measure every example (Dataset Cartography
confidence/variability/correctness, forgetfulness, AUM, EL2N, entropy), draw data maps,
select subsets, retrain, augment with mixup and evaluate.
"""

__version__ = "0.1.0"

from datamap.errors import DatamapError  # noqa: E402

__all__ = ["DatamapError", "__version__"]
