"""The static PNG map: one colour (and marker) per correctness value k/E with a legend."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd

from datamap.views.static import HEXBIN_ABOVE, MARKERS, correctness_colors, correctness_epochs, map_figure, plot_map, write_map_png


def test_correctness_epochs_from_values_and_hint():
    assert correctness_epochs(np.array([0, 0.25, 0.5, 1.0])) == 4
    assert correctness_epochs(np.array([1 / 3, 2 / 3, 1.0], dtype=np.float32)) == 3
    assert correctness_epochs(np.array([0.0, 1.0]), hint=6) == 6  # metrics.json says 6 epochs
    assert correctness_epochs(np.array([0.0, 0.25]), hint=3) == 4  # a hint that does not fit is ignored
    assert correctness_epochs(np.array([0.1 / np.pi])) is None


def colours_in(png: bytes) -> np.ndarray:
    import matplotlib.image as mpimg

    img = mpimg.imread(io.BytesIO(png))[..., :3]
    return np.round(img.reshape(-1, 3) * 255).astype(int)


def has_colour(pixels: np.ndarray, rgb) -> bool:
    want = np.round(np.asarray(rgb) * 255).astype(int)
    return bool((np.abs(pixels - want).max(axis=1) <= 1).any())


def metrics(n: int, epochs: int, seed: int = 0, levels=None) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    k = rng.choice(levels if levels is not None else np.arange(epochs + 1), n)
    return pd.DataFrame({"confidence": rng.uniform(0, 1, n), "variability": rng.uniform(0, 0.4, n),
                         "correctness": k / epochs, "region": rng.choice(["easy", "ambiguous", "hard", "none"], n)})


def test_scatter_has_one_colour_and_marker_per_correctness_value():
    import matplotlib.pyplot as plt

    m = metrics(300, 4)
    fig = map_figure(m)
    colours = correctness_colors(4)
    level = np.round(m["correctness"] * 4).astype(int)
    drawn = {}
    for coll in fig.axes[0].collections:  # one scatter per value, drawn from k = E down to 0
        rgb = tuple(np.round(coll.get_facecolor()[0][:3], 6))
        drawn[rgb] = len(coll.get_offsets())
    assert drawn == {tuple(np.round(colours[k], 6)): int((level == k).sum()) for k in range(5)}
    legend = fig.axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == [f"{k}/4 epochs ({int((level == k).sum()):,})" for k in range(5)]
    assert [h.get_marker() for h in legend.legend_handles] == list(MARKERS[:5])
    bars = fig.axes[3]  # the correctness histogram: one bar per value, in its colour
    assert [p.get_height() for p in bars.patches] == [int((level == k).sum()) for k in range(5)]
    assert [tuple(np.round(p.get_facecolor()[:3], 6)) for p in bars.patches] == [tuple(np.round(c, 6)) for c in colours]
    from matplotlib.markers import MarkerStyle

    for coll in fig.axes[0].collections:  # each value is drawn with its own marker shape
        k = [tuple(np.round(c, 6)) for c in colours].index(tuple(np.round(coll.get_facecolor()[0][:3], 6)))
        style = MarkerStyle(MARKERS[k])
        want = style.get_path().transformed(style.get_transform()).vertices
        np.testing.assert_allclose(coll.get_paths()[0].vertices, want)
    plt.close(fig)
    assert has_colour(colours_in(plot_map(m)), colours[0])


def test_hexbin_colours_each_hexagon_by_its_most_common_value():
    import matplotlib.pyplot as plt

    m = metrics(HEXBIN_ABOVE + 5_000, 4)
    rng = np.random.default_rng(1)
    band = m.index[:10_000]  # a crowded band: 90 % correct in 4 of 4 epochs, 10 % in 0 of 4
    m.loc[band, "confidence"] = rng.uniform(0.95, 1.0, len(band))
    m.loc[band, "correctness"] = np.where(rng.random(len(band)) < 0.9, 1.0, 0.0)
    m.loc[m.index[10_000:], "confidence"] = rng.uniform(0, 0.9, len(m) - 10_000)
    fig = map_figure(m)
    fig.canvas.draw()  # colours are mapped when drawn
    hexes = fig.axes[0].collections[0]
    faces = np.round(hexes.get_facecolors()[:, :3], 6)
    allowed = {tuple(np.round(c, 6)) for c in correctness_colors(4)}
    assert {tuple(f) for f in faces} <= allowed  # no colour between the values
    centres = hexes.get_offsets()
    top = centres[:, 1] > 0.955
    share = (faces[top] == np.round(correctness_colors(4)[4], 6)).all(axis=1).mean()
    assert top.sum() > 100 and share > 0.95, share  # the mode; the minimum would give about 0.2
    plt.close(fig)


def test_png_legend_counts_in_the_epochs_of_metrics_json(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    metrics(200, 1, levels=[0, 1]).to_parquet(run / "metrics.parquet", index=False)  # only 0/E and E/E occur
    (run / "metrics.json").write_text(json.dumps({"epochs_used": 4}), encoding="utf-8")
    px = colours_in((write_map_png(run)).read_bytes())
    for c in correctness_colors(4):  # legend entries for 1/4, 2/4, 3/4 too
        assert has_colour(px, c), c


def test_png_and_html_maps_draw_the_same_sample_for_one_seed(tmp_path):
    """--max-points: one sampling rule (core.sampling.sample_positions) for both maps."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from views_helpers import make_run, payload

    from datamap.views.interactive import write_html_map

    run = make_run(tmp_path / "run", n_random=300)
    metrics = pd.read_parquet(run / "metrics.parquet")
    html_ids = set(payload(write_html_map(run, out=tmp_path / "m.html", max_points=40, seed=5))["ids"])
    fig = map_figure(metrics, max_points=40, seed=5)
    shown = np.concatenate([c.get_offsets() for c in fig.axes[0].collections])
    key = {(round(v, 9), round(c, 9)): i for i, v, c in zip(metrics["id"], metrics["variability"], metrics["confidence"])}
    png_ids = {key[(round(x, 9), round(y, 9))] for x, y in shown}
    assert len(png_ids) == 40 and png_ids == html_ids
    # a sample, not the first rows; another seed draws other points
    assert png_ids != set(metrics["id"][:40])
    other = set(payload(write_html_map(run, out=tmp_path / "o.html", max_points=40, seed=6))["ids"])
    assert other != html_ids


def test_png_region_labels_sit_where_their_regions_are_in_the_one_palette():
    from datamap.views.static import REGION_COLORS
    from matplotlib.colors import to_hex

    rng = np.random.default_rng(0)
    metrics = pd.DataFrame({"confidence": rng.random(50), "variability": rng.random(50) / 2,
                            "correctness": rng.integers(0, 4, 50) / 3})
    texts = {t.get_text(): t for t in map_figure(metrics).axes[0].texts}
    easy, hard, amb = texts["easy-to-learn"], texts["hard-to-learn"], texts["ambiguous"]
    assert easy.get_position()[1] > 0.9 and hard.get_position()[1] < 0.1  # confidence is the y axis
    assert amb.get_position()[0] > 0.9  # variability is the x axis
    assert to_hex(easy.get_color()) == REGION_COLORS["easy"] and to_hex(hard.get_color()) == REGION_COLORS["hard"]
