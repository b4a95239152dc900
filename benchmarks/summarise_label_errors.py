"""Summarise label-error benchmark outputs as Markdown tables.

Reads the ``results.json`` that ``bench_label_errors.py`` writes in each OUT directory and prints:

1. one row per (dataset, noise) cell and method: AUROC, average precision and precision@k
   (mean ± sample std over seeds, and the number of seeds), with the trainings each needed;
2. the retraining accuracies of each cell (noisy data, flagged examples dropped, as many dropped at random);
3. per method, its AUROC averaged over cells and the number of cells where it is the best single-run
   method: the measurement behind the default of ``datamap errors``.

Example::

    python benchmarks/summarise_label_errors.py runs/bench-errors-matrix/seed*/*/
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

SINGLE_RUN = ("confidence", "aum", "el2n", "forgetfulness", "rank_mean", "class_confidence", "cleanlab_in_sample")


def cell(values: list[float], digits: int = 3) -> str:
    v = np.asarray([x for x in values if x is not None], dtype=float)
    if len(v) == 0:
        return "–"
    return f"{v.mean():.{digits}f}" if len(v) == 1 else f"{v.mean():.{digits}f} ± {v.std(ddof=1):.{digits}f}"


SETTINGS = ("dataset", "split", "n", "kind", "rate", "epochs", "model", "max_length", "batch_size", "lr")


def load(dirs: list[Path]) -> list[dict]:
    """One cell per setting; seeds run into different OUT directories are pooled. A seed found twice (a
    light run and one with crossval, say) is counted once, with the methods and retraining figures of both."""
    cells: dict[tuple, dict] = {}
    for d in dirs:
        f = d / "results.json"
        if not f.exists():  # a cell still running, or stopped before its first seed finished
            print(f"skipped {d}: no results.json yet", file=sys.stderr)
            continue
        doc = json.loads(f.read_text())
        a = doc["args"]
        key = tuple(a.get(k) for k in SETTINGS)
        c = cells.setdefault(key, {"name": f"{a['dataset']}, {a['kind']} {a['rate']:g}", "args": a, "results": []})
        by_seed = {r["seed"]: r for r in c["results"]}
        for r in doc["results"]:
            if r["seed"] not in by_seed:
                c["results"].append(r)
                continue
            old = by_seed[r["seed"]]
            old["methods"] = {**r["methods"], **old["methods"]}
            for k, v in r.items():
                if old.get(k) is None:
                    old[k] = v
    return list(cells.values())


def wide(cells: list[dict], measure: str) -> None:
    """``measure`` of each method, mean over seeds, with the number of seeds when it is not the cell's."""
    methods = list(dict.fromkeys(m for c in cells for r in c["results"] for m in r["methods"]))
    print("| data, noise | seeds | " + " | ".join(methods) + " |")
    print("| --- | ---: | " + " | ".join("---:" for _ in methods) + " |")
    for c in cells:
        n = len(c["results"])
        row = []
        for m in methods:
            v = [r["methods"][m][measure] for r in c["results"] if m in r["methods"]]
            row.append("–" if not v else f"{np.mean(v):.3f}" + ("" if len(v) == n else f" ({len(v)})"))
        print(f"| {c['name']} | {n} | " + " | ".join(row) + " |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("dirs", nargs="+", type=Path, help="OUT directories of bench_label_errors.py")
    p.add_argument("--wide", choices=["auroc", "ap", "p_at_k"],
                   help="only one table: a row per cell, this measure of each method (mean over seeds)")
    args = p.parse_args()
    cells = load(args.dirs)
    if args.wide:
        wide(cells, args.wide)
        return

    print("| data, noise | n | seeds | method | trainings | AUROC | AP | P@k |")
    print("| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |")
    for c in cells:
        res = c["results"]
        for m in dict.fromkeys(k for r in res for k in r["methods"]):  # every method any seed measured, in order
            rows = [r["methods"][m] for r in res if m in r["methods"]]
            print(f"| {c['name']} | {res[0]['n']} | {len(rows)} | {m} | {rows[0]['trainings']} | "
                  + " | ".join(cell([r[k] for r in rows]) for k in ("auroc", "ap", "p_at_k")) + " |")

    print("\n| data, noise | seeds | flipped | dropped (of them flipped) | noisy acc | drop flagged | drop random |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for c in cells:
        res = [r for r in c["results"] if r.get("drop_flagged_accuracy") is not None]  # seeds that retrained
        if not res:
            continue
        dropped = cell([r.get("n_dropped") for r in res], 0)
        hit = cell([r.get("dropped_flipped") for r in res], 0)
        print(f"| {c['name']} | {len(res)} | {res[0]['n_flipped']} | {dropped} ({hit}) | "
              + " | ".join(cell([r.get(k) for r in res]) for k in
                           ("noisy_accuracy", "drop_flagged_accuracy", "drop_random_accuracy")) + " |")

    print("\n| data, noise | seeds | AUM (1 training) | cleanlab k-fold (k trainings) | AUM - cleanlab (per seed, mean ± std) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    diffs = []
    for c in cells:
        pairs = [(r["methods"]["aum"]["auroc"], r["methods"][m]["auroc"]) for r in c["results"]
                 for m in r["methods"] if m.startswith("cleanlab_") and m.endswith("fold")]
        if not pairs:
            continue
        a, b = np.array(pairs).T
        diffs.append(float(np.mean(a - b)))
        print(f"| {c['name']} | {len(pairs)} | {cell(list(a))} | {cell(list(b))} | {cell(list(a - b))} |")
    if diffs:
        print(f"\nAUM minus k-fold cleanlab, mean over {len(diffs)} cells: {np.mean(diffs):+.4f}; "
              f"AUM >= cleanlab in {sum(d >= 0 for d in diffs)} of {len(diffs)} cells")

    print("\n| single-run method | mean AUROC over cells | cells where best |")
    print("| --- | ---: | ---: |")
    means: dict[str, list[float]] = {m: [] for m in SINGLE_RUN}
    wins = dict.fromkeys(SINGLE_RUN, 0)
    for c in cells:
        per = {m: np.mean([r["methods"][m]["auroc"] for r in c["results"] if m in r["methods"]])
               for m in SINGLE_RUN if any(m in r["methods"] for r in c["results"])}
        for m, v in per.items():
            means[m].append(v)
        wins[max(per, key=per.get)] += 1
    for m in SINGLE_RUN:
        if means[m]:
            print(f"| {m} | {np.mean(means[m]):.3f} (over {len(means[m])}) | {wins[m]} |")


if __name__ == "__main__":
    main()
