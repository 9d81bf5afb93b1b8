"""Benchmarks: each script prints JSON (docs/BENCHMARKS.md); run them as files, e.g.
`.venv/bin/python bench/routing.py`."""
