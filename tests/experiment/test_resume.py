"""The resume rules of datamap run on a plan of cheap stages: skip what is done with the same key, redo
what changed, was interrupted or forced, and everything that reads a redone stage."""

from __future__ import annotations

from pathlib import Path

import pytest

from datamap.errors import DatamapError
from datamap.experiment.runner import Plan, Stage, describe, execute, forced


def make_plan(root: Path, log: list[str], params: dict | None = None, fail: str | None = None) -> Plan:
    """a -> b -> c and a -> d; each stage appends its id to ``log`` and writes ROOT/<id>.txt."""
    params = params or {}

    def action(sid: str):
        def go() -> None:
            if sid == fail:
                raise KeyboardInterrupt  # killed in the middle of this stage
            log.append(sid)
            (root / f"{sid}.txt").write_text(str(params.get(sid, 0)))
        return go

    def clean(sid: str):
        def go() -> None:
            log.append(f"clean {sid}")
        return go

    root.mkdir(exist_ok=True)
    spec = {"a": [], "b": ["a"], "c": ["b"], "d": ["a"]}
    stages = [Stage(sid, "select", root / sid[0], {"v": params.get(sid, 0)}, after, action=action(sid), clean=clean(sid),
                    outputs=[root / f"{sid}.txt"]) for sid, after in spec.items()]
    return Plan(root, stages, [], None)


def ran(root: Path, **kw) -> list[str]:
    log: list[str] = []
    p = make_plan(root, log, kw.pop("params", None), kw.pop("fail", None))
    execute(p, forced(p, kw.pop("force", [])), echo=lambda _: None)
    return [x for x in log if not x.startswith("clean")]


def statuses(root: Path, params=None, force=()) -> dict[str, str]:
    p = make_plan(root, [], params)
    return {sid: status for sid, _, status in describe(p, forced(p, list(force)))}


def test_skip_redo_and_propagation(tmp_path):
    assert statuses(tmp_path) == {"a": "run", "b": "run (after an earlier stage)", "c": "run (after an earlier stage)",
                                  "d": "run (after an earlier stage)"}
    assert ran(tmp_path) == ["a", "b", "c", "d"]
    assert ran(tmp_path) == []  # everything done with the same keys
    assert statuses(tmp_path, params={"b": 1}) == {"a": "done", "b": "redo (changed)",
                                                   "c": "run (after an earlier stage)", "d": "done"}
    assert ran(tmp_path, params={"b": 1}) == ["b", "c"]  # b changed: b and what reads it
    assert ran(tmp_path, params={"b": 1}) == []
    assert statuses(tmp_path, params={"b": 1}, force=["a"])["a"] == "redo (forced)"
    assert ran(tmp_path, params={"b": 1}, force=["a"]) == ["a", "b", "c", "d"]  # a redone: new token downstream
    assert ran(tmp_path, params={"b": 1}, force=["c", "d"]) == ["c", "d"]


def test_interrupted_stage_is_cleaned_and_redone(tmp_path):
    assert ran(tmp_path) == ["a", "b", "c", "d"]
    with pytest.raises(KeyboardInterrupt):
        ran(tmp_path, params={"b": 2}, fail="b")
    assert statuses(tmp_path, params={"b": 2}) == {"a": "done", "b": "redo (interrupted)",
                                                   "c": "run (after an earlier stage)", "d": "done"}
    log: list[str] = []
    p = make_plan(tmp_path, log, {"b": 2})
    execute(p, echo=lambda _: None)
    assert log == ["clean b", "b", "clean c", "c"]


def test_force_names_ids_kinds_and_globs(tmp_path):
    p = make_plan(tmp_path, [])
    assert forced(p, ["b"]) == {"b"} and forced(p, ["select"]) == {"a", "b", "c", "d"} and forced(p, ["[cd]"]) == {"c", "d"}
    with pytest.raises(DatamapError, match=r"--force bb: no stage of that id, kind or pattern \(did you mean 'b'\?\)"):
        forced(p, ["bb"])


def test_a_stage_whose_outputs_are_gone_is_redone(tmp_path):
    assert ran(tmp_path) == ["a", "b", "c", "d"]
    (tmp_path / "b.txt").unlink()
    assert statuses(tmp_path) == {"a": "done", "b": "redo (outputs missing)", "c": "run (after an earlier stage)",
                                  "d": "done"}
    assert ran(tmp_path) == ["b", "c"]


def test_a_training_run_counts_as_done_only_with_a_complete_manifest(tmp_path):
    from datamap.io.rundir import RunDir

    run = RunDir(tmp_path / "run")
    run.root.mkdir()
    run.config.write_text("x: 1\n")
    stage = Stage("seed1/run", "train", run.root, {}, outputs=[run.config])
    assert not stage.intact()  # no manifest
    run.write_manifest(stage="train", status="incomplete", epochs=2, epochs_written=1)
    assert not stage.intact()
    run.write_manifest(status="complete", epochs_written=2)
    assert stage.intact()
