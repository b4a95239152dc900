"""datamap: training dynamics for transformer text classifiers.

Record per-example logits while fine-tuning, measure every example (Dataset Cartography
confidence/variability/correctness, forgetfulness, AUM, EL2N, entropy), draw data maps,
select subsets, retrain, augment with mixup and evaluate.

The public Python API (:mod:`datamap.api`)::

    datamap.compute_metrics(logits, gold)   datamap.assign_regions(metrics)
    datamap.select(metrics, ambiguous=0.33) datamap.train(dataset=..., out=...)
    datamap.load_run("runs/rt")            datamap.plot_map(run)  datamap.label_issues(run)
    datamap.show_map(run)                  (the interactive map, inline in Jupyter)
"""

__version__ = "0.1.0"

from datamap.api import (Run, assign_regions, compute_metrics, label_issues, load_run, plot_map, select,  # noqa: E402
                         show_map, train)
from datamap.errors import DatamapError  # noqa: E402

__all__ = ["DatamapError", "Run", "__version__", "assign_regions", "compute_metrics", "label_issues", "load_run",
           "plot_map", "select", "show_map", "train"]
