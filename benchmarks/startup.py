"""Where the seconds before the first training step go: ``datamap train`` in a fresh process, stopped there.

Runs ``datamap train ARGS`` (by default ``make demo``'s training) in a new Python process that times
each phase of the loop's set-up by wrapping the loop's own functions (nothing in the library is
changed for it) and stops at the first training step. Prints one line per phase and the total:

    python benchmarks/startup.py                       # make demo's training, 3 repeats
    python benchmarks/startup.py --repeats 1 -- --dataset rotten_tomatoes --model minilm --limit 500

Phases: ``python + imports`` (interpreter start, the CLI, torch, the loop's modules), ``accelerator``,
``read data`` (training and evaluation sets), ``tokenizer``, ``model``, ``tokenise`` (training and
evaluation sets), ``rest`` (run directory written, optimizer, Accelerate's prepare) up to the first step.
Every phase is the median over the repeats. The machine's load changes these figures: compare runs
made one after the other.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEMO = ["--dataset", "rotten_tomatoes", "--model", "minilm", "--epochs", "3", "--limit", "2000", "--limit-mode",
        "random", "--batch-size", "32", "--max-length", "64", "--lr", "5e-5"]

CHILD = r"""
import json, sys, time
t_start = float(sys.argv[1]); out = sys.argv[2]; args = sys.argv[3:]
times = {}
def add(name, seconds):
    times[name] = times.get(name, 0.0) + seconds
import datamap.cli as cli
import datamap.training.loop as loop
add("python + imports", time.time() - t_start)
def timed(name, fn):
    def wrapper(*a, **k):
        t = time.time()
        try:
            return fn(*a, **k)
        finally:
            add(name, time.time() - t)
    return wrapper
for attr, name in (("make_accelerator", "accelerator"), ("load_data", "read data"), ("load_tokenizer", "tokenizer"),
                   ("load_model", "model"), ("encode_frame", "tokenise"), ("encode_cached", "tokenise")):
    if hasattr(loop, attr):  # encode_cached: the tokenised-data cache (encode_frame before it)
        setattr(loop, attr, timed(name, getattr(loop, attr)))
class FirstStep(Exception):
    pass
def kill_point(point):
    if point == "0:0":
        raise FirstStep
loop.kill_point = kill_point
import datamap.training.loop_parts as loop_parts  # the optimizer step's kill points live there
loop_parts.kill_point = kill_point
try:
    cli.main(args)
except FirstStep:
    pass
total = time.time() - t_start
times["rest"] = total - sum(times.values())
times["total"] = total
json.dump(times, open(out, "w"))
"""

PHASES = ["python + imports", "accelerator", "read data", "tokenizer", "model", "tokenise", "rest", "total"]


def measure(args: list[str], env: dict) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "times.json"
        run = ["train", *args, "--out", str(Path(tmp) / "run"), "--overwrite", "--quiet"]
        t0 = time.time()
        subprocess.run([sys.executable, "-c", CHILD, repr(t0), str(out), *run], env=env, check=True, cwd=REPO)
        return json.loads(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="Print the medians as JSON.")
    parser.add_argument("train_args", nargs="*", help="datamap train options after --; default: make demo's")
    opts = parser.parse_args()
    env = dict(os.environ)
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    env["PYTHONPATH"] = str(REPO / "src") + os.pathsep + env.get("PYTHONPATH", "")  # this checkout's datamap
    if "DATAMAP_DATA_DIR" not in env and (REPO.parent / "shared" / "data").is_dir():
        env["DATAMAP_DATA_DIR"] = str(REPO.parent / "shared" / "data")
    args = opts.train_args or DEMO
    runs = [measure(args, env) for _ in range(opts.repeats)]
    med = {p: statistics.median(r.get(p, 0.0) for r in runs) for p in PHASES}
    if opts.json:
        print(json.dumps(med))
        return
    print(f"start-up to the first step of: datamap train {' '.join(args)}  (median of {opts.repeats})")
    for p in PHASES:
        print(f"  {p:18s} {med[p]:6.2f} s   " + " ".join(f"{r.get(p, 0.0):.2f}" for r in runs))


if __name__ == "__main__":
    main()
