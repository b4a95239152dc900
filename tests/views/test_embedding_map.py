"""The interactive map's embedding view (`datamap plot RUN --html --xy embedding`): PCA coordinates joined
by id, clusters as a colouring, errors; and in headless Chromium: the cluster in the tooltip, XSS-safe
text, box selection of one cluster exported as a selection."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from views_helpers import XSS_IMG, XSS_SCRIPT, decode, launch_browser, make_run, payload  # noqa: E402

from datamap.errors import DatamapError  # noqa: E402
from datamap.io.embeddings import read_clusters, write_embeddings  # noqa: E402
from datamap.stages.cluster import cluster_file  # noqa: E402
from datamap.views.interactive import write_html_map  # noqa: E402
from datamap.views.projection import pca_2d, project_2d  # noqa: E402


def add_embeddings(run: Path, clusters: bool = True) -> Path:
    """Four blobs in 8-d (by position in data.parquet), embeddings rows in reverse data order."""
    ids = pd.read_parquet(run / "data.parquet")["id"].tolist()[::-1]
    rng = np.random.default_rng(0)
    truth = np.arange(len(ids)) % 4
    x = (np.eye(8)[truth] * np.array([12, 8, 4, 0, 0, 0, 0, 0]) + rng.normal(0, 0.3, (len(ids), 8))).astype(np.float32)
    write_embeddings(run / "embeddings.parquet", ids, x, {"pooling": "mean", "model": "blobs"})
    if clusters:
        cluster_file(run / "embeddings.parquet", method="kmeans", k=4)
    return run


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    return add_embeddings(make_run(tmp_path_factory.mktemp("emb") / "nli"))


def test_pca_matches_scikit_learn_up_to_sign():
    from sklearn.decomposition import PCA

    x = np.random.default_rng(1).normal(size=(200, 6)).astype(np.float32) * np.arange(1, 7)
    xy, ratio = pca_2d(x)
    ref = PCA(n_components=2).fit(x)
    np.testing.assert_allclose(np.abs(xy), np.abs(ref.transform(x)), rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(ratio, ref.explained_variance_ratio_, rtol=1e-4)
    np.testing.assert_array_equal(pca_2d(x)[0], xy)  # deterministic signs


def test_umap_only_when_installed():
    try:
        import umap  # noqa: F401
    except ImportError:
        with pytest.raises(DatamapError, match="--projection umap needs the umap-learn package"):
            project_2d(np.zeros((5, 3)), "umap")
    with pytest.raises(DatamapError, match="--projection 'tsne'"):
        project_2d(np.zeros((5, 3)), "tsne")


def test_payload_coordinates_and_clusters_follow_the_metrics_order_by_id(run):
    out = write_html_map(run, xy="embedding")
    assert out == run / "map_embedding.html" and not (run / "map.html").exists()
    p = payload(out)
    from datamap.io.embeddings import read_embeddings

    emb = read_embeddings(run / "embeddings.parquet")
    pos = {i: k for k, i in enumerate(emb.keys)}
    expected = pca_2d(emb.vectors[[pos[i] for i in p["ids"]]])[0]  # metrics order, not embeddings order
    np.testing.assert_allclose(decode(p["x"], "<f4"), expected[:, 0], atol=1e-4)
    np.testing.assert_allclose(decode(p["y"], "<f4"), expected[:, 1], atol=1e-4)
    assert p["xy"]["kind"] == "embedding" and p["xy"]["x"].startswith("PC1 (") and p["color_by"] == "cluster"
    frame = read_clusters(run / "clusters.parquet")[0].set_index("id")
    codes = decode(p["cluster"], "<i4")
    assert [p["cluster_names"][c] for c in codes] == [str(frame.loc[i, "cluster"]) for i in p["ids"]]
    page = out.read_text(encoding="utf-8")
    assert "Axes: PCA of embeddings.parquet (mean pooling, 8 dimensions); clusters from clusters.parquet (kmeans)." in page
    assert "<script>alert" not in page and page.count("<script") == 2
    # the variability x confidence map is unchanged: no view keys
    plain = payload(write_html_map(run, out=run / "plain.html"))
    assert "xy" not in plain and "cluster" not in plain and plain["color_by"] == "correctness"


def test_noise_and_sampling(run, tmp_path):
    frame, _ = read_clusters(run / "clusters.parquet")
    frame.loc[:9, "cluster"] = -1
    frame.to_parquet(tmp_path / "noisy.parquet")
    p = payload(write_html_map(run, xy="embedding", clusters=tmp_path / "noisy.parquet", out=tmp_path / "n.html",
                               max_points=100, seed=2))
    assert p["cluster_names"][0] == "noise" and len(p["ids"]) == 100 and p["sampled"] is True


def test_errors_name_the_file_or_option(tmp_path):
    run = make_run(tmp_path / "r", n_random=20)
    with pytest.raises(DatamapError, match=r"embeddings\.parquet: not found; run `datamap embed .*r` first"):
        write_html_map(run, xy="embedding")
    add_embeddings(run, clusters=False)
    p = payload(write_html_map(run, xy="embedding"))
    assert p["color_by"] == "region" and "cluster" not in p
    with pytest.raises(DatamapError, match="--color-by 'cluster'"):
        write_html_map(run, xy="embedding", color_by="cluster", overwrite=True)
    with pytest.raises(DatamapError, match="--xy 'tsne'"):
        write_html_map(run, xy="tsne")
    with pytest.raises(DatamapError, match="only apply to the embedding view"):
        write_html_map(run, clusters=run / "x.parquet")
    ids = pd.read_parquet(run / "data.parquet")["id"]
    write_embeddings(tmp_path / "short.parquet", ids[1:].tolist(), np.zeros((len(ids) - 1, 4)), {})
    with pytest.raises(DatamapError, match=r"short\.parquet: has no embedding for 1 of 25 ids"):
        write_html_map(run, xy="embedding", embeddings=tmp_path / "short.parquet", overwrite=True)


# ---------------------------------------------------------------- in the browser


@pytest.fixture(scope="module")
def browser():
    with launch_browser() as b:
        yield b


@pytest.mark.slow
def test_browser_tooltip_cluster_xss_and_box_selection_of_a_cluster(run, browser, tmp_path):
    out = write_html_map(run, xy="embedding", out=tmp_path / "e.html")
    p = payload(out)
    x, y, codes = decode(p["x"], "<f4"), decode(p["y"], "<f4"), decode(p["cluster"], "<i4")
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: (errors.append("dialog " + d.message), d.dismiss()))
    page.goto(out.as_uri())
    page.wait_for_function("window.datamap && window.datamap.ready === true", timeout=30_000)
    assert "Colour: cluster" in page.inner_text("#dm-legend") and "cluster 0" in page.inner_text("#dm-legend")

    # hover the XSS record exactly at its pixel: its text shows literally, its cluster is named, nothing runs
    i = p["ids"].index("xss")
    pt = page.evaluate("id => window.datamap.pointPixel(id)", "xss")
    page.mouse.move(pt["x"], pt["y"])
    tip = page.inner_text("#dm-tooltip")
    assert "id xss" in tip and XSS_SCRIPT in tip and XSS_IMG in tip
    assert f"cluster: {p['cluster_names'][codes[i]]}" in tip
    assert page.evaluate("window.__xss") is None
    assert page.eval_on_selector_all("#dm-tooltip img, #dm-tooltip script", "els => els.length") == 0

    # a box around one cluster (they lie apart in the projection) selects exactly its members
    c = codes[i]
    mine = codes == c
    pad = 0.02 * (x.max() - x.min())
    xa, xb, ya, yb = x[mine].min() - pad, x[mine].max() + pad, y[mine].min() - pad, y[mine].max() + pad
    inside = (x >= xa) & (x <= xb) & (y >= ya) & (y <= yb)
    assert (inside == mine).all()  # the blobs are apart: the box holds this cluster only
    a = page.evaluate("([x, y]) => window.datamap.dataToClient(x, y)", [float(xa), float(yb)])
    b = page.evaluate("([x, y]) => window.datamap.dataToClient(x, y)", [float(xb), float(ya)])
    page.mouse.move(a["x"], a["y"])
    page.mouse.down()
    page.mouse.move(b["x"], b["y"], steps=4)
    page.mouse.up()
    expected = sorted(np.asarray(p["ids"])[mine].tolist())
    assert sorted(page.evaluate("window.datamap.selectedIds()")) == expected
    with page.expect_download() as dl:
        page.click("#dm-export")
    dl.value.save_as(tmp_path / "sel.json")
    sel = json.loads((tmp_path / "sel.json").read_text(encoding="utf-8"))
    assert sorted(sel["ids"]) == expected and sel["recipe"]["view"] == "embedding"
    assert errors == []
    page.close()
