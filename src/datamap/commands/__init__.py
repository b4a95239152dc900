"""CLI command functions (typer-annotated, registered in :mod:`datamap.cli`).

Each raises :class:`datamap.errors.DatamapError` for bad input; the CLI prints ``error: ...``
and exits with status 2.
"""
