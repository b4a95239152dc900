"""``datamap plot``: its options (the YAML runner's ``cartography.maps`` only names the maps to draw: no section)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from datamap.stages.options.base import Options, option
from datamap.stages.options.checks import choice
from datamap.views.projection import PROJECTIONS, XY_CHOICES


class PlotOptions(Options):
    """The data map of a run: RUN/map.png, or the interactive RUN/map.html
    (:func:`datamap.views.static.write_map_png`, :func:`datamap.views.interactive.write_html_map`)."""

    command = "plot"

    out: Optional[Path] = option(None, "Output file (default RUN/map.png, or RUN/map.html with --html).")
    html: bool = option(False, "Write the interactive map (map.html) instead of the PNG.")
    max_points: Optional[int] = option(None, "Draw a random sample of N points (said on the map); default: all.", ge=1)
    seed: int = option(0, "Seed of the --max-points sample (the PNG and the HTML map draw the same points for one seed).")
    color_by: Optional[str] = option(
        None, "HTML map colouring: correctness (default), region, gold, pred, cluster, label_issue (with "
              "RUN/label_issues.parquet) or a metric column.")
    xy: str = option(XY_CHOICES[0], "HTML axes: map (variability x confidence) or embedding (2-D projection of "
                                    "RUN/embeddings.parquet).")
    projection: str = option(PROJECTIONS[0], "Projection of --xy embedding: pca, or umap (needs umap-learn).")
    embeddings: Optional[Path] = option(None, "Embeddings file of --xy embedding (default RUN/embeddings.parquet).")
    clusters: Optional[Path] = option(
        None, "Clusters file to colour --xy embedding by (default RUN/clusters.parquet if present).")

    _xy = choice(XY_CHOICES, "xy")
    _projection = choice(PROJECTIONS, "projection")
