"""The dynamics store and the allenai jsonl format: exact round trips and validation errors."""

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datamap.errors import DatamapError
from datamap.io.jsonl import read_jsonl_dir, write_jsonl
from datamap.io.store import SCHEMA, Dynamics, DynamicsWriter, epoch_table, read_dynamics, write_dynamics


def random_dynamics(n=50, e=4, c=3, seed=0):
    rng = np.random.default_rng(seed)
    ids = np.array([f"id-{i}" for i in rng.permutation(n)], dtype=object)
    return Dynamics(ids, rng.normal(size=(n, e, c)).astype(np.float32) * 7, rng.integers(0, c, n), np.arange(e))


def test_parquet_round_trip_exact(tmp_path):
    dyn = random_dynamics()
    write_dynamics(tmp_path / "d.parquet", dyn)
    back = read_dynamics(tmp_path / "d.parquet")
    assert back.ids.tolist() == dyn.ids.tolist()
    assert np.array_equal(back.logits, dyn.logits) and back.logits.dtype == np.float32
    assert back.gold.tolist() == dyn.gold.tolist()
    assert pq.read_schema(tmp_path / "d.parquet").equals(SCHEMA)


def test_jsonl_round_trip_exact(tmp_path):
    dyn = random_dynamics()
    paths = write_jsonl(dyn, tmp_path / "td")
    assert [p.name for p in paths] == [f"dynamics_epoch_{e}.jsonl" for e in range(4)]
    first = json.loads(paths[2].read_text().splitlines()[0])
    assert set(first) == {"guid", "logits_epoch_2", "gold"}
    back = read_jsonl_dir(tmp_path / "td")
    assert back.ids.tolist() == dyn.ids.tolist()
    assert np.array_equal(back.logits, dyn.logits)
    assert back.gold.tolist() == dyn.gold.tolist()
    # and back to jsonl: byte-identical files
    again = write_jsonl(back, tmp_path / "td2")
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(paths, again))


def test_jsonl_import_ignores_extra_keys_and_int_guids(tmp_path):
    d = tmp_path / "td"
    d.mkdir()
    for e in range(2):
        with open(d / f"dynamics_epoch_{e}.jsonl", "w") as fh:
            for g in range(3):
                fh.write(json.dumps({"guid": g, f"logits_epoch_{e}": [0.5, -0.5], "gold": g % 2, "device": "cuda:0"}) + "\n")
    dyn = read_jsonl_dir(d)
    assert dyn.ids.tolist() == ["0", "1", "2"] and dyn.logits.shape == (3, 2, 2)


def _write_table(path, table):
    pq.write_table(table, path)
    return path


def test_missing_epoch(tmp_path):
    dyn = random_dynamics(n=5, e=3)
    t = pa.concat_tables([epoch_table(dyn.ids, dyn.logits[:, j], dyn.gold, e) for j, e in enumerate([0, 2])])
    with pytest.raises(DatamapError, match="epoch 1 is missing"):
        read_dynamics(_write_table(tmp_path / "d.parquet", t))


def test_example_missing_from_an_epoch(tmp_path):
    dyn = random_dynamics(n=5, e=2)
    t = pa.concat_tables([
        epoch_table(dyn.ids, dyn.logits[:, 0], dyn.gold, 0),
        epoch_table(dyn.ids[:4], dyn.logits[:4, 1], dyn.gold[:4], 1),
    ])
    with pytest.raises(DatamapError, match=f"example '{dyn.ids[4]}' is missing from epoch 1"):
        read_dynamics(_write_table(tmp_path / "d.parquet", t))


def test_mixed_class_counts(tmp_path):
    t = pa.concat_tables([
        epoch_table(["a", "b"], np.zeros((2, 2)), [0, 1], 0),
        epoch_table(["a", "b"], np.zeros((2, 3)), [0, 1], 1),
    ])
    with pytest.raises(DatamapError, match="mixed class counts"):
        read_dynamics(_write_table(tmp_path / "d.parquet", t))


def test_jsonl_mixed_class_counts_names_line(tmp_path):
    d = tmp_path / "td"
    d.mkdir()
    (d / "dynamics_epoch_0.jsonl").write_text(
        json.dumps({"guid": "a", "logits_epoch_0": [1, 2], "gold": 0}) + "\n"
        + json.dumps({"guid": "b", "logits_epoch_0": [1, 2, 3], "gold": 0}) + "\n"
    )
    with pytest.raises(DatamapError, match=r"dynamics_epoch_0.jsonl:2: mixed class counts"):
        read_jsonl_dir(d)


def test_unreadable_and_missing(tmp_path):
    bad = tmp_path / "d.parquet"
    bad.write_text("not parquet")
    with pytest.raises(DatamapError, match="cannot read dynamics"):
        read_dynamics(bad)
    with pytest.raises(DatamapError, match="not found"):
        read_dynamics(tmp_path / "nope.parquet")


def test_writer_leaves_nothing_on_error(tmp_path):
    with pytest.raises(RuntimeError):
        with DynamicsWriter(tmp_path / "d.parquet") as w:
            w.write_epoch(0, ["a"], np.zeros((1, 2)), [0])
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_rows_in_any_order_read_the_same(tmp_path):
    """Files written by other tools may order rows differently: same arrays as the in-order file."""
    dyn = random_dynamics(n=30, e=3)
    write_dynamics(tmp_path / "ordered.parquet", dyn)
    perm = np.random.default_rng(1).permutation(30)
    t = pa.concat_tables([
        epoch_table(dyn.ids[perm if j == 1 else slice(None)], dyn.logits[perm if j == 1 else slice(None), j],
                    dyn.gold[perm if j == 1 else slice(None)], j)
        for j in (2, 0, 1)  # epochs out of order too
    ])
    a, b = read_dynamics(tmp_path / "ordered.parquet"), read_dynamics(_write_table(tmp_path / "shuffled.parquet", t))
    order = {i: k for k, i in enumerate(b.ids)}
    idx = np.array([order[i] for i in a.ids])
    assert np.array_equal(a.logits, b.logits[idx]) and np.array_equal(a.gold, b.gold[idx])


@pytest.mark.parametrize("n", [0, 1, 2, 7])
def test_jsonl_round_trip_awkward_ids_and_sizes(tmp_path, n):
    awkward = ['a","b', 'back\\slash', "quote\"d", "uni\u00e9\u4e2d", "new\nline", "],[", "1"]
    rng = np.random.default_rng(n)
    logits = rng.normal(size=(n, 2, 3)).astype(np.float32) * np.float32(1e6)
    logits[:, :, 0] = np.float32(np.pi) * np.float32(1e-30)  # tiny and huge magnitudes round-trip too
    dyn = Dynamics(np.array(awkward[:n], dtype=object), logits, rng.integers(0, 3, n), np.arange(2))
    paths = write_jsonl(dyn, tmp_path / "td")
    # every line is valid JSON with exactly these values (the text is built without json.dumps)
    for e, path in enumerate(paths):
        lines = path.read_text(encoding="utf-8").splitlines()
        assert [json.loads(line)["guid"] for line in lines] == awkward[:n]
        assert [np.float32(json.loads(line)[f"logits_epoch_{e}"]).tolist() for line in lines] == logits[:, e].tolist()
    if n:
        back = read_jsonl_dir(tmp_path / "td")
        assert back.ids.tolist() == awkward[:n] and np.array_equal(back.logits, logits)


@pytest.mark.parametrize(
    "line, message",
    [
        ('{"guid": "b", "logits_epoch_0": [1, 2], "gold": 1.7}', r"'gold' must be an integer class index, got 1.7"),
        ('{"guid": "b", "logits_epoch_0": [1, 2], "gold": true}', "'gold' must be an integer class index, got True"),
        ('{"guid": "b", "logits_epoch_0": [1, 2], "gold": "pos"}', "'gold' must be an integer class index, got 'pos'"),
        ('{"guid": "b", "logits_epoch_0": [1, 2], "gold": null}', "'gold' must be an integer class index, got None"),
        ('{"guid": null, "logits_epoch_0": [1, 2], "gold": 1}', "'guid' must be a string or an integer, got None"),
        ('{"guid": "b", "logits_epoch_0": [1, NaN], "gold": 1}', "must be a non-empty list of finite numbers"),
        ('{"guid": "b", "logits_epoch_0": [1, "x"], "gold": 1}', "must be a non-empty list of finite numbers"),
        ("5", "expected a JSON object, got int"),
        ('{"guid": "b", "logits_epoch_0": [1, 2]', "invalid JSON"),
    ],
)
def test_jsonl_bad_line_is_named(tmp_path, line, message):
    d = tmp_path / "td"
    d.mkdir()
    (d / "dynamics_epoch_0.jsonl").write_text('{"guid": "a", "logits_epoch_0": [0.5, 1], "gold": 0}\n' + line + "\n")
    with pytest.raises(DatamapError, match=r"dynamics_epoch_0.jsonl:2: .*" + message):
        read_jsonl_dir(d)


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


def _aligned(a: Dynamics, b: Dynamics) -> bool:
    """Same examples with the same logits and gold, whatever the order of the examples."""
    order = {i: k for k, i in enumerate(b.ids)}
    if sorted(order) != sorted(a.ids.tolist()):
        return False
    idx = np.array([order[i] for i in a.ids], dtype=np.int64)
    return bool(np.array_equal(a.logits, b.logits[idx]) and np.array_equal(a.gold, b.gold[idx]))


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 12), e=st.integers(2, 4), seed=st.integers(0, 10_000))
def test_any_per_epoch_permutation_reads_back_the_same_dynamics(tmp_path_factory, n, e, seed):
    """Epoch blocks in epoch order, rows shuffled within each epoch (allenai-style exports shuffle per
    epoch): parquet and jsonl read back to the same dynamics as the unshuffled file."""
    tmp = tmp_path_factory.mktemp("perm")
    dyn = random_dynamics(n=n, e=e, seed=seed)
    rng = np.random.default_rng(seed)
    perms = [rng.permutation(n) for _ in range(e)]
    t = pa.concat_tables([epoch_table(dyn.ids[p], dyn.logits[p, j], dyn.gold[p], j) for j, p in enumerate(perms)])
    assert _aligned(dyn, read_dynamics(_write_table(tmp / "shuffled.parquet", t)))
    paths = write_jsonl(dyn, tmp / "td")
    for path, p in zip(paths, perms):
        lines = path.read_text().splitlines()
        path.write_text("\n".join(lines[k] for k in p) + "\n")
    assert _aligned(dyn, read_jsonl_dir(tmp / "td"))
