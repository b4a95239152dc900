"""One typed options model per command: every option's type, default, range, choices and help, written once.

The command line is generated from these models (:func:`datamap.cli_options.with_options`), the YAML
runner's sections are these models (or sections cut from them, :meth:`Options.section`), and the stage
functions and :mod:`datamap.api` take the same keyword arguments with the same defaults (guarded by
``tests/test_drift.py``). ``datamap train``'s model is :class:`datamap.training.config.TrainConfig`.
"""

from datamap.stages.options.base import Options, option

__all__ = ["Options", "option"]
