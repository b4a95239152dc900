"""The sft dynamics store: round trip, per-epoch files, consolidation and one-line refusals."""

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from datamap.errors import DatamapError
from datamap.io.store import (
    SFT_SCHEMA, SFTDynamics, consolidate_epochs, dynamics_kind, read_dynamics, read_sft_dynamics,
    write_sft_dynamics, write_sft_epoch_file,
)


def make_dyn(n=4, p=3, record="every", record_every=5) -> SFTDynamics:
    rng = np.random.default_rng(0)
    tok = rng.integers(1, 9, (n, 1)).repeat(p, axis=1)
    return SFTDynamics(
        ids=np.array([f"e{i}" for i in range(n)], dtype=object),
        loss_sum=rng.uniform(0, 5, (n, p)), n_tokens=tok, n_correct=np.minimum(rng.integers(0, 9, (n, p)), tok),
        epochs=np.array([0, 0, 1][:p]), steps=np.array([5, 10, 15][:p]),
        meta={"kind": "sft", "record": record, "record_every": record_every},
    )


def test_round_trip_schema_and_kind(tmp_path):
    dyn = make_dyn()
    path = write_sft_dynamics(tmp_path / "dynamics.parquet", dyn)
    schema = pq.read_schema(path)
    assert schema.remove_metadata().equals(SFT_SCHEMA)
    assert json.loads(schema.metadata[b"datamap"]) == {"kind": "sft", "record": "every", "record_every": 5}
    assert pq.ParquetFile(path).num_row_groups == 2  # one per epoch
    back = read_sft_dynamics(path)
    assert back.ids.tolist() == dyn.ids.tolist()
    assert np.array_equal(back.loss_sum, dyn.loss_sum) and np.array_equal(back.n_tokens, dyn.n_tokens)
    assert np.array_equal(back.n_correct, dyn.n_correct)
    assert back.epochs.tolist() == [0, 0, 1] and back.steps.tolist() == [5, 10, 15]
    assert back.meta["record"] == "every" and dynamics_kind(path) == "sft"
    with pytest.raises(DatamapError, match="sft run"):
        read_dynamics(path)


def test_classifier_files_are_classify(tmp_path):
    from datamap.io.store import Dynamics, write_dynamics

    path = write_dynamics(tmp_path / "d.parquet", Dynamics(np.array(["a"], dtype=object), np.zeros((1, 1, 2), np.float32),
                                                          np.array([0]), np.arange(1)))
    assert dynamics_kind(path) == "classify"
    with pytest.raises(DatamapError, match="classifier logits"):
        read_sft_dynamics(path)


def test_epoch_files_several_points_per_epoch_and_consolidation(tmp_path):
    dyn = make_dyn()
    folder = tmp_path / "dynamics"
    rec = np.stack([dyn.loss_sum, dyn.n_tokens, dyn.n_correct], axis=-1).transpose(1, 0, 2).astype(np.float32)
    write_sft_epoch_file(folder, 0, dyn.ids, rec[:2], [0, 1], [5, 10], record="every", record_every=5)
    write_sft_epoch_file(folder, 1, dyn.ids, rec[2], 2, 15, record="every", record_every=5)  # one point: (n, 3)
    assert dynamics_kind(folder) == "sft"
    from_folder = read_sft_dynamics(folder)
    assert np.allclose(from_folder.loss_sum, dyn.loss_sum.astype(np.float32)) and from_folder.steps.tolist() == [5, 10, 15]
    out = consolidate_epochs(folder, tmp_path / "dynamics.parquet")
    joined = read_sft_dynamics(out)
    assert np.array_equal(joined.loss_sum, from_folder.loss_sum) and np.array_equal(joined.n_correct, dyn.n_correct)
    assert joined.meta == {"kind": "sft", "record": "every", "record_every": 5}


@pytest.mark.parametrize("field,value,message", [
    ("loss_sum", np.nan, "loss_sum nan of example 'e1' at point 2"),
    ("loss_sum", np.inf, "loss_sum inf of example 'e1' at point 2"),
    ("n_tokens", 0, "n_tokens 0 of example 'e1' at point 2"),
    ("n_correct", 99, "n_correct 99 of example 'e1' at point 2"),
])
def test_bad_values_are_one_line(tmp_path, field, value, message):
    dyn = make_dyn()
    arr = getattr(dyn, field).astype(np.float64) if field != "loss_sum" else dyn.loss_sum
    arr[1, 2] = value
    setattr(dyn, field, arr)
    path = write_sft_dynamics(tmp_path / "d.parquet", dyn)
    with pytest.raises(DatamapError, match=message) as exc:
        read_sft_dynamics(path)
    assert "\n" not in str(exc.value)


def test_ragged_points_are_refused(tmp_path):
    dyn = make_dyn()
    folder = tmp_path / "dynamics"
    rec = np.stack([dyn.loss_sum, dyn.n_tokens, dyn.n_correct], axis=-1).transpose(1, 0, 2)
    write_sft_epoch_file(folder, 0, dyn.ids, rec[:2], [0, 1], [5, 10])
    write_sft_epoch_file(folder, 1, dyn.ids[:3], rec[2, :3], 2, 15)  # e3 missing at point 2
    with pytest.raises(DatamapError, match="example 'e3' is missing from point 2"):
        read_sft_dynamics(folder)
    write_sft_epoch_file(folder, 1, dyn.ids, rec[2], 3, 15)  # point 2 missing
    with pytest.raises(DatamapError, match="point 2 is missing"):
        read_sft_dynamics(folder)


def test_rows_in_any_order_read_the_same(tmp_path):
    import pyarrow as pa

    dyn = make_dyn(n=6)
    path = write_sft_dynamics(tmp_path / "d.parquet", dyn)
    table = pq.read_table(path)
    shuffled = table.take(pa.array(np.random.default_rng(1).permutation(table.num_rows)))
    pq.write_table(shuffled.replace_schema_metadata(table.schema.metadata), tmp_path / "s.parquet")
    a, b = read_sft_dynamics(path), read_sft_dynamics(tmp_path / "s.parquet")
    order = [list(b.ids).index(i) for i in a.ids]
    assert np.array_equal(a.loss_sum, b.loss_sum[order]) and np.array_equal(a.n_correct, b.n_correct[order])
    assert a.steps.tolist() == b.steps.tolist() and a.ids.tolist() == dyn.ids.tolist()
