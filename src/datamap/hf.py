"""The Hugging Face ``Trainer`` integration under its short public name.

    from datamap.hf import DynamicsTrainer as Trainer   # the one-line change to a Trainer script

The implementation lives in :mod:`datamap.training.trainer`.
"""

from datamap.training.trainer import DynamicsTrainer, IndexCollator, train_frame

__all__ = ["DynamicsTrainer", "IndexCollator", "train_frame"]
