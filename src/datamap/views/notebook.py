"""The interactive data map inline in Jupyter: :func:`datamap.show_map` returns a :class:`MapView`, whose
``_repr_html_`` embeds the very page ``datamap plot RUN --html`` writes (:func:`datamap.views.interactive.write_html_map`)
in an ``<iframe srcdoc>``: the page, escaped as one attribute value, runs in its own sandboxed document
(scripts and the selection export allowed; no access to the notebook), so its styles and scripts cannot
clash with the notebook's and the notebook's cannot reach it.
"""

from __future__ import annotations

import html
import os
import tempfile
from pathlib import Path

from datamap.errors import DatamapError
from datamap.io.atomic import refuse_existing, write_text
from datamap.io.rundir import RunDir

#: what the embedded page may do: run its scripts and download an exported selection (nothing else)
SANDBOX = "allow-scripts allow-downloads"


class MapView:
    """The interactive data map of a run, shown inline by Jupyter (``_repr_html_``).

    Attributes
    ----------
    page : str
        The whole HTML page, byte for byte what ``datamap plot RUN --html`` writes with the same options.
    title : str
        The iframe's title (the run's name).
    height : int
        The iframe's height in CSS pixels.
    """

    def __init__(self, page: str, title: str, height: int = 820):
        self.page = page
        self.title = title
        self.height = int(height)

    def _repr_html_(self) -> str:
        return (f'<iframe srcdoc="{html.escape(self.page, quote=True)}" title="{html.escape(self.title, quote=True)}" '
                f'sandbox="{SANDBOX}" style="width:100%;height:{self.height}px;border:1px solid #ddd"></iframe>')

    def save(self, path: "str | os.PathLike", overwrite: bool = False) -> Path:
        """Write the page to ``path`` (refused when it exists, unless ``overwrite``); returns the path."""
        target = Path(path)
        refuse_existing(target, overwrite)
        return write_text(target, self.page)

    def __repr__(self) -> str:
        return f"<MapView {self.title!r}: {len(self.page):,} characters of HTML; shown inline in Jupyter; .save(path)>"


def map_view(run_dir: "str | os.PathLike", height: int = 820, **options) -> MapView:
    """The :class:`MapView` of a run: the page of :func:`~datamap.views.interactive.write_html_map` with
    ``options`` (``color_by``, ``max_points``, ``seed``, ``xy``, ``embeddings``, ``clusters``,
    ``projection``), written to a temporary folder and read back; nothing is written into the run."""
    from datamap.views.interactive import write_html_map

    rd = RunDir(run_dir)
    if not rd.metrics.exists():
        raise DatamapError(f"{rd.metrics}: not found; run `datamap metrics {rd.root}` first (the interactive map "
                           "reads the metrics file; datamap.plot_map draws from computed metrics)")
    if "out" in options or "overwrite" in options:
        raise DatamapError("show_map: no out/overwrite (nothing is written; MapView.save(path) writes the page)")
    with tempfile.TemporaryDirectory(prefix="datamap-map-") as tmp:
        page = write_html_map(rd.root, out=Path(tmp) / "map.html", **options).read_text(encoding="utf-8")
    return MapView(page, f"datamap: {rd.root.resolve().name}", height)
