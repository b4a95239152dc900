"""Stages: one module per command's logic (measure, select, compare, evaluate, interop, embed, cluster),
called by the CLI and the Python API. Each reads and writes run directories; bad input is a DatamapError."""
