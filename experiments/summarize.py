"""Mean ± standard deviation over seeds of the runs made by the experiment scripts.

    python experiments/summarize.py runs/rt-cpu runs/rt-cpu-s43 runs/rt-cpu-s44
    python experiments/summarize.py --col snli_test:accuracy --col hans_validation:accuracy:hans runs/cs/s*

Each folder argument is one seed's output folder; runs with the same name are grouped across folders.
``--col SET:METRIC[:LABEL]`` (repeatable) picks a column: the score METRIC of RUN/eval/SET.json
(dotted keys reach nested scores, e.g. ``heuristics.lexical_overlap.non-entailment.accuracy``).
Default columns: accuracy, f1_macro and ece of ``validation`` and ``rotten_tomatoes_test``
(experiments/rotten_tomatoes_cpu.sh). Prints a Markdown table (sample standard deviation, ddof 1).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

SETS = (("validation", "val"), ("rotten_tomatoes_test", "test"))
METRICS = ("accuracy", "f1_macro", "ece")


def parse_col(text: str) -> tuple[str, str, str]:
    parts = text.split(":")
    if len(parts) not in (2, 3) or not all(parts):
        raise argparse.ArgumentTypeError(f"--col {text!r}: expected SET:METRIC or SET:METRIC:LABEL")
    return parts[0], parts[1], parts[2] if len(parts) == 3 else f"{parts[0]} {parts[1]}"


def score(path: Path, metric: str):
    value = json.loads(path.read_text())
    for key in metric.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value if isinstance(value, (int, float)) else None


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folders", nargs="+", help="one output folder per seed")
    ap.add_argument("--col", action="append", type=parse_col, default=[], help="SET:METRIC[:LABEL] (repeatable)")
    args = ap.parse_args(argv)
    cols = args.col or [(s, m, f"{short} {m}") for s, short in SETS for m in METRICS]

    runs: dict[str, list[Path]] = {}
    for folder in args.folders:
        if not Path(folder).is_dir():
            continue
        for run in sorted(Path(folder).iterdir()):
            if (run / "eval").is_dir():
                runs.setdefault(run.name, []).append(run)
    head = ["run", "seeds"] + [label for _, _, label in cols]
    print("| " + " | ".join(head) + " |")
    print("| " + " | ".join(["---", "---:"] + ["---:"] * (len(head) - 2)) + " |")
    for name, paths in runs.items():
        cells = [name, str(len(paths))]
        for set_name, metric, _ in cols:
            files = [p / "eval" / f"{set_name}.json" for p in paths]
            vals = [v for v in (score(f, metric) for f in files if f.exists()) if v is not None]
            if not vals:
                cells.append("-")
            elif len(vals) == 1:
                cells.append(f"{vals[0]:.4f}")
            else:
                cells.append(f"{np.mean(vals):.4f} ± {np.std(vals, ddof=1):.4f}")
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
