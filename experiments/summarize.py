"""Mean ± standard deviation over seeds of the runs made by experiments/rotten_tomatoes_cpu.sh.

    python experiments/summarize.py runs/rt-cpu runs/rt-cpu-s43 runs/rt-cpu-s44

Each argument is one seed's output folder; runs with the same name are grouped across folders.
Prints a Markdown table (sample standard deviation, ddof 1).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

SETS = (("validation", "val"), ("rotten_tomatoes_test", "test"))
METRICS = ("accuracy", "f1_macro", "ece")


def main(folders: list[str]) -> None:
    runs: dict[str, list[Path]] = {}
    for folder in folders:
        for run in sorted(Path(folder).iterdir()):
            if (run / "eval").is_dir():
                runs.setdefault(run.name, []).append(run)
    head = ["run", "seeds"] + [f"{short} {m}" for _, short in SETS for m in METRICS]
    print("| " + " | ".join(head) + " |")
    print("| " + " | ".join(["---", "---:"] + ["---:"] * (len(head) - 2)) + " |")
    for name, paths in runs.items():
        cells = [name, str(len(paths))]
        for set_name, _ in SETS:
            for metric in METRICS:
                vals = [json.loads((p / "eval" / f"{set_name}.json").read_text())[metric] for p in paths
                        if (p / "eval" / f"{set_name}.json").exists()]
                if not vals:
                    cells.append("-")
                elif len(vals) == 1:
                    cells.append(f"{vals[0]:.4f}")
                else:
                    cells.append(f"{np.mean(vals):.4f} ± {np.std(vals, ddof=1):.4f}")
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
