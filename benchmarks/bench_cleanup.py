"""Does acting on the label-error flags pay off? Noisy vs clean-label training vs drop / relabel / down-weight.

One seeded sample of N training examples of DATASET, labels flipped with ``datamap noise`` (known flips),
then the arms, each one training:

- ``oracle``: the clean labels; ``noisy``: the noisy labels (the run whose dynamics are ranked);
- ``drop_flagged``: the noisy rows minus the flagged ones (``select --drop-errors``), trained for the
  noisy run's number of optimizer steps (``--steps-like``);
- ``drop_random``: as many rows dropped at random, same steps;
- ``relabel``: the flagged rows relabelled to the model's prediction (``datamap relabel``);
- ``down_weight``: the flagged rows' loss weighted ``--flagged-weight`` (``datamap weights``).

The actions use the cut ``--cut`` (default ``auto``). Prints each arm's accuracy on the evaluation
sets and each cut's precision and recall against the known flips; writes OUT/results.json.
Example (CPU-sized; the figures in docs/results.md)::

    DATAMAP_DATA_DIR=../shared/data python benchmarks/bench_cleanup.py --dataset rotten_tomatoes --n 1000 \\
        --rate 0.2 --epochs 3 --seed 1 --out runs/bench-cleanup
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from datamap.core.selection import Recipe
from datamap.errors import DatamapError
from datamap.io.data import load_dataset
from datamap.stages.actions import relabel_run, weights_run
from datamap.stages.errors import find_errors
from datamap.stages.noise import make_noisy
from datamap.stages.select import select_run
from datamap.training.config import TrainConfig
from datamap.training.loop import train

CUTS = ("aum0", "count", "fraction:0.1", "top:K=flipped")


def accuracies(run_root: Path) -> dict:
    return {f.stem: json.loads(f.read_text())["accuracy"] for f in sorted((run_root / "eval").glob("*.json"))}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="rotten_tomatoes")
    p.add_argument("--split", default="train")
    p.add_argument("--eval", nargs="*", default=["validation", "test"], help="evaluation splits of DATASET")
    p.add_argument("--eval-n", type=int, default=None, help="score a seeded sample of this many rows of each split")
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--rate", type=float, default=0.2)
    p.add_argument("--kind", default="uniform")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--model", default="minilm")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=5e-5)
    p.add_argument("--max-length", type=int, default=64)
    p.add_argument("--cut", default="auto")
    p.add_argument("--flagged-weight", type=float, default=0.5)
    p.add_argument("--force-flag", action="store_true", help="flag even at chance (smoke runs)")
    p.add_argument("--out", default="runs/bench-cleanup")
    args = p.parse_args()

    t_all = time.perf_counter()
    root = Path(args.out)
    root.mkdir(parents=True, exist_ok=True)
    frame, _, _ = load_dataset(args.dataset, args.split)
    rows = np.sort(np.random.default_rng(args.seed).choice(len(frame), size=min(args.n, len(frame)), replace=False))
    frame.iloc[rows].to_parquet(root / "clean.parquet", index=False)
    noise = make_noisy(str(root / "clean.parquet"), root / "noisy.parquet", kind=args.kind, rate=args.rate,
                       seed=args.seed, overwrite=True)
    flipped = set(pd.read_parquet(noise.flipped_path)["id"].astype(str))
    eval_sets = []
    for split in args.eval:
        ev, _, _ = load_dataset(args.dataset, split)
        if args.eval_n is not None and args.eval_n < len(ev):
            ev = ev.iloc[np.sort(np.random.default_rng(0).choice(len(ev), size=args.eval_n, replace=False))]
        ev.to_parquet(root / f"{split}.parquet", index=False)
        eval_sets.append(str((root / f"{split}.parquet").resolve()))
    base = dict(model=args.model, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, max_length=args.max_length,
                seed=args.seed, eval_split=None, eval_datasets=eval_sets,
                save_model=False, checkpoint=False, overwrite=True)
    out = {"args": vars(args), "n": len(rows), "n_flipped": len(flipped), "arms": {}, "cuts": {}, "seconds": {}}

    def arm(name: str, **cfg) -> None:
        t = time.perf_counter()
        run = train(TrainConfig(**base, out=str(root / name), **cfg), progress=False)
        out["seconds"][name] = round(time.perf_counter() - t, 1)
        hist = json.loads(run.history.read_text())["epochs"]
        out["arms"][name] = {"accuracy": accuracies(run.root), "steps": hist[-1]["steps"],
                             "n_train": len(pd.read_parquet(run.data, columns=["id"]))}
        print(name, out["arms"][name], f"{out['seconds'][name]} s", flush=True)
        (root / "results.json").write_text(json.dumps(out, indent=1))

    arm("noisy", dataset=str(root / "noisy.parquet"))
    noisy = root / "noisy"
    for cut in (*CUTS, args.cut):
        spec = f"top:{len(flipped)}" if cut == "top:K=flipped" else cut
        try:
            res = find_errors(noisy, cut=spec, overwrite=True, force_flag=args.force_flag)
        except DatamapError as exc:
            out["cuts"][cut] = {"refused": str(exc)}
            continue
        table = res.table[~res.table["threshold_sample"]]
        truth = table["id"].astype(str).isin(flipped).to_numpy()
        flags = table["flag"].to_numpy()
        out["cuts"][cut] = {"resolved": res.cut, "n_flagged": int(flags.sum()),
                            "precision": float(truth[flags].mean()) if flags.any() else None,
                            "recall": float(flags[truth].mean()) if truth.any() else None,
                            "capped": [c.__dict__ for c in res.capped]}
        print("cut", cut, out["cuts"][cut], flush=True)
    if "refused" in out["cuts"][args.cut]:  # the actions still need flags: take them anyway, and say so
        find_errors(noisy, cut=args.cut, overwrite=True, force_flag=True)
        out["forced"] = out["cuts"][args.cut]["refused"]
        print("refused, flagged anyway for the actions:", out["forced"], flush=True)
    # label_issues.parquet now holds args.cut's flags: the actions use them
    issues = pd.read_parquet(noisy / "label_issues.parquet")
    flagged = set(issues["id"][issues["flag"]].astype(str))
    ids = issues["id"].astype(str).to_numpy()
    select_run(noisy, "drop_flagged", Recipe(), drop_errors=True, overwrite=True)
    rng = np.random.default_rng(args.seed + 1000)
    keep_random = sorted(set(ids) - set(rng.choice(ids, size=len(flagged), replace=False)))
    (root / "drop_random.json").write_text(json.dumps({"ids": keep_random}))
    relabel_run(noisy, root / "relabeled.parquet", overwrite=True)
    weights_run(noisy, root / "weights.parquet", flagged_weight=args.flagged_weight, overwrite=True)

    arm("oracle", dataset=str(root / "clean.parquet"))
    arm("drop_flagged", dataset=str(root / "noisy.parquet"), subset=str((noisy / "selections" / "drop_flagged.json").resolve()),
        steps_like=str(noisy))
    arm("drop_random", dataset=str(root / "noisy.parquet"), subset=str((root / "drop_random.json").resolve()),
        steps_like=str(noisy))
    arm("relabel", dataset=str(root / "relabeled.parquet"))
    arm("down_weight", dataset=str(root / "noisy.parquet"), weights=str((root / "weights.parquet").resolve()))
    out["seconds"]["total"] = round(time.perf_counter() - t_all, 1)
    (root / "results.json").write_text(json.dumps(out, indent=1))

    sets = list(out["arms"]["noisy"]["accuracy"])
    print(f"\n{'arm':<14} {'examples':>8} {'steps':>6} " + " ".join(f"{s:>24}" for s in sets))
    for name, a in out["arms"].items():
        print(f"{name:<14} {a['n_train']:>8} {a['steps']:>6} " + " ".join(f"{a['accuracy'][s]:>24.4f}" for s in sets))
    print(f"\n{'cut':<16} {'flagged':>8} {'precision':>10} {'recall':>8}   (vs {len(flipped)} flips)")
    for cut, c in out["cuts"].items():
        if "refused" in c:
            print(f"{cut:<16} refused: {c['refused']}")
        else:
            print(f"{cut:<16} {c['n_flagged']:>8} {c['precision'] or 0:>10.3f} {c['recall'] or 0:>8.3f}  ({c['resolved']})")
    print(f"\ntotal {out['seconds']['total']} s; {root / 'results.json'}")


if __name__ == "__main__":
    main()
