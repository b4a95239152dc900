"""The Hugging Face ``Trainer`` integration under its short public name.

    from datamap.hf import DynamicsTrainer as Trainer   # the one-line change to a Trainer script

The implementation lives in :mod:`datamap.training.trainer`; TRL's ``SFTTrainer`` drop-in,
``from datamap.hf import DynamicsSFTTrainer as SFTTrainer``, in :mod:`datamap.training.trl_trainer`.
"""

from datamap.training.trainer import DynamicsTrainer, IndexCollator, train_frame

__all__ = ["DynamicsTrainer", "IndexCollator", "train_frame"]  # and DynamicsSFTTrainer (needs trl)


def __getattr__(name):  # the TRL drop-in imports trl, an optional dependency: only when asked for
    if name == "DynamicsSFTTrainer":
        from datamap.training.trl_trainer import DynamicsSFTTrainer

        return DynamicsSFTTrainer
    raise AttributeError(f"module 'datamap.hf' has no attribute {name!r}")
