"""The seeds of a label-error clean-up experiment in one table: each arm's accuracy per seed and mean ± std, the share
of the noisy -> oracle gap each action recovers, and each cut's precision and recall against the known flips.

    # the experiment of examples/noisy_cleanup.yaml (datamap run), its flips from `datamap noise`
    python benchmarks/cleanup_summary.py --experiment runs/examples/noisy_cleanup --flipped data/rt_uniform20.flipped.parquet
    # bench_cleanup.py runs, one folder per seed
    python benchmarks/cleanup_summary.py runs/cleanup-full runs/cleanup-full-s2 runs/cleanup-full-s3

Prints Markdown (the tables of docs/results.md). With folders, each must hold the ``results.json`` of one
``bench_cleanup.py`` run with the same settings but the seed (other settings are refused). With ``--experiment``,
the arms come from the experiment's ``results.parquet`` (its ``cartography`` run is the noisy arm) and the cuts are
scored on each seed's ``cartography`` run: the experiment's own cut from its ``label_issues.parquet``, the other
cuts by ``datamap errors`` on a copy of that run (the experiment's files are only read).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

ARMS = {
    "noisy": "noisy (the run that is ranked)",
    "oracle": "oracle (clean labels, same rows)",
    "drop_flagged": "drop flagged, same steps",
    "drop_random": "drop as many at random, same steps",
    "relabel": "relabel flagged",
    "down_weight": "down-weight flagged",
}
ACTIONS = ("drop_flagged", "drop_random", "relabel", "down_weight")


def mean_std(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.4f} ± {sd:.4f}"


CUTS = ("aum0", "count", "fraction:0.1")


def score_cut(table, flipped: set[str]) -> dict:
    """``n_flagged``, precision and recall of a ``label_issues`` table's ``flag`` column against the flipped ids."""
    table = table[~table["threshold_sample"]] if "threshold_sample" in table.columns else table
    truth = table["id"].astype(str).isin(flipped).to_numpy()
    flags = table["flag"].to_numpy(dtype=bool)
    return {"n_flagged": int(flags.sum()), "precision": float(truth[flags].mean()) if flags.any() else float("nan"),
            "recall": float(flags[truth].mean()) if truth.any() else float("nan")}


def load_experiment(folder: Path, flipped_path: Path) -> list[dict]:
    """One dict per seed of a ``datamap run`` clean-up experiment, shaped like ``bench_cleanup.py``'s results."""
    import shutil
    import tempfile

    import pandas as pd

    from datamap.errors import DatamapError
    from datamap.io.rundir import RunDir
    from datamap.stages.errors import find_errors

    table = pd.read_parquet(folder / "results.parquet")
    flipped = set(pd.read_parquet(flipped_path, columns=["id"])["id"].astype(str))
    acc = table[table["metric"] == "accuracy"]
    results = []
    for seed in sorted(acc["seed"].unique()):
        rows = acc[acc["seed"] == seed]
        arms = {("noisy" if run == "cartography" else run): {"accuracy": dict(zip(g["eval_set"], g["value"]))}
                for run, g in rows.groupby("run")}
        missing = [a for a in ARMS if a not in arms]
        if missing:
            sys.exit(f"{folder / 'results.parquet'}: seed {seed} lacks the arm(s) {missing}")
        cartography = RunDir(folder / f"seed{seed}" / "cartography")
        issues, meta = cartography.read_label_issues()
        cuts = {"the experiment's": {"resolved": str(meta.get("cut")), **score_cut(issues, flipped)}}
        with tempfile.TemporaryDirectory() as tmp:  # the other cuts on a copy: the experiment's run is only read
            copy = Path(tmp) / "run"
            shutil.copytree(cartography.root, copy, ignore=shutil.ignore_patterns("model", "checkpoint", "*.lock"))
            for cut in (*CUTS, f"top:{len(flipped)}"):
                try:
                    res = find_errors(copy, cut=cut, overwrite=True)
                except DatamapError as exc:
                    cuts[cut] = {"resolved": f"refused: {exc}", "n_flagged": 0, "precision": float("nan"),
                                 "recall": float("nan")}
                    continue
                cuts[cut] = {"resolved": res.cut, **score_cut(res.table, flipped)}
        splits = sorted({sp for a in arms.values() for sp in a["accuracy"]}, key=lambda sp: (sp != "validation", sp))
        results.append({"args": {"seed": int(seed), "eval": splits}, "arms": arms, "cuts": cuts, "seconds": {}})
    return results


def load(folders: list[Path]) -> list[dict]:
    results = []
    for folder in folders:
        path = folder / "results.json"
        if not path.is_file():
            sys.exit(f"{path}: not found (run benchmarks/bench_cleanup.py --out {folder} first)")
        results.append(json.loads(path.read_text()))
    settings = [{k: v for k, v in r["args"].items() if k not in ("seed", "out")} for r in results]
    for folder, s in zip(folders, settings):
        if s != settings[0]:
            diff = sorted(k for k in s if s[k] != settings[0].get(k))
            sys.exit(f"{folder / 'results.json'}: settings differ from {folders[0] / 'results.json'} in {diff}")
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="*", type=Path, help="bench_cleanup.py --out folders, one per seed")
    ap.add_argument("--experiment", type=Path, help="a datamap run experiment folder (examples/noisy_cleanup.yaml's out)")
    ap.add_argument("--flipped", type=Path, help="with --experiment: the flipped ids (datamap noise's .flipped.parquet)")
    args = ap.parse_args()
    if bool(args.experiment) == bool(args.folders) or bool(args.experiment) != bool(args.flipped):
        ap.error("give bench_cleanup.py folders, or --experiment with --flipped")
    results = load_experiment(args.experiment, args.flipped) if args.experiment else load(args.folders)
    seeds = [r["args"]["seed"] for r in results]
    splits = list(results[0]["args"]["eval"])
    acc = {arm: {sp: [r["arms"][arm]["accuracy"][sp] for r in results] for sp in splits} for arm in ARMS}

    print(f"Seeds {', '.join(map(str, seeds))}; per seed: " + ", ".join(splits) + "; mean ± std over the seeds.\n")
    head = " | ".join(f"{sp} seed {s}" for sp in splits for s in seeds)
    print(f"| arm | {head} | " + " | ".join(f"{sp} mean ± std" for sp in splits) + " |")
    print("| --- |" + " ---: |" * (len(splits) * len(seeds) + len(splits)))
    for arm, label in ARMS.items():
        per_seed = " | ".join(f"{v:.4f}" for sp in splits for v in acc[arm][sp])
        print(f"| {label} | {per_seed} | " + " | ".join(mean_std(acc[arm][sp]) for sp in splits) + " |")

    print("\nShare of the noisy -> oracle gap recovered (mean accuracy of the arm minus the noisy run's, over the mean gap;"
          " per seed in brackets):\n")
    print("| action | " + " | ".join(splits) + " |")
    print("| --- |" + " ---: |" * len(splits))
    for arm in ACTIONS:
        cells = []
        for sp in splits:
            gap = statistics.mean(acc["oracle"][sp]) - statistics.mean(acc["noisy"][sp])
            gain = statistics.mean(acc[arm][sp]) - statistics.mean(acc["noisy"][sp])
            each = ", ".join(f"{(a - n) / (o - n):+.0%}" if o != n else "n/a"
                             for a, n, o in zip(acc[arm][sp], acc["noisy"][sp], acc["oracle"][sp]))
            cells.append(f"{gain / gap:+.0%} ({each})" if gap else "no gap")
        print(f"| {ARMS[arm]} | " + " | ".join(cells) + " |")

    print("\nEach cut against the known flips (per seed: flagged, precision, recall; then the mean precision and recall):\n")
    print("| cut | " + " | ".join(f"seed {s}" for s in seeds) + " | mean precision | mean recall |")
    print("| --- |" + " --- |" * len(seeds) + " ---: | ---: |")
    for cut in results[0]["cuts"]:
        cs = [r["cuts"][cut] for r in results]
        cells = " | ".join(f"{c['resolved']}: {c['n_flagged']:,}, {c['precision']:.3f}, {c['recall']:.3f}" for c in cs)
        print(f"| `{cut}` | {cells} | {statistics.mean(c['precision'] for c in cs):.3f} | "
              f"{statistics.mean(c['recall'] for c in cs):.3f} |")
    walls = [r["seconds"]["total"] for r in results if "total" in r["seconds"]]
    if walls:
        print(f"\nWall time per seed: {', '.join(f'{w:,.0f} s' for w in walls)}.")


if __name__ == "__main__":
    main()
