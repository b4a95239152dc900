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
