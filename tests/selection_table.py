"""The hand-made metrics table of the selection tests (core, selection files, the select command)."""

import json
import math

import numpy as np
import pandas as pd

INF = math.inf

# Hand-made table, N = 10. Rankings worked out by hand:
#   variability desc: 2 (.40), 5 (.40), 9 (.35), 4 (.30), 6 (.20), 3 (.15), 1 (.10), 8 (.08), 0 (.05), 7 (.02)
#   confidence desc:  0 (.95), 8 (.90), 3 (.80), 6 (.70), 2 (.50), 5 (.50), 9 (.40), 4 (.20), 1 (.10), 7 (.05)
# region (allenai, fraction 0.3): ambiguous 2 5 9, easy 0 8 3, hard 7 1 4, none 6.
TABLE = {
    "id": np.array([f"e{i}" for i in range(10)], dtype=object),
    "gold": np.array([0, 1, 0, 1, 0, 1, 0, 1, 0, 1], dtype=np.int64),
    "confidence": np.array([0.95, 0.10, 0.50, 0.80, 0.20, 0.50, 0.70, 0.05, 0.90, 0.40]),
    "variability": np.array([0.05, 0.10, 0.40, 0.15, 0.30, 0.40, 0.20, 0.02, 0.08, 0.35]),
    "correctness": np.array([1.0, 0.0, 0.4, 1.0, 0.0, 0.6, 0.8, 0.0, 1.0, 0.4]),
    "forgetfulness": np.array([0, INF, 2, 1, INF, 3, 1, INF, 0, 2], dtype=np.float64),
    "region": np.array(
        ["easy", "hard", "ambiguous", "easy", "hard", "ambiguous", "none", "hard", "easy", "ambiguous"], dtype=object
    ),
}



def make_run(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    data = pd.DataFrame(
        {
            "id": TABLE["id"].astype(str),
            "text": [f"text {i}" for i in range(10)],
            "label": TABLE["gold"],
            "label_name": np.where(TABLE["gold"] == 1, "pos", "neg"),
        }
    )
    data.to_parquet(run / "data.parquet", index=False)
    metrics = pd.DataFrame(TABLE)
    metrics.to_parquet(run / "metrics.parquet", index=False)
    (run / "labels.json").write_text(json.dumps({"names": ["neg", "pos"]}))
    return run, data
