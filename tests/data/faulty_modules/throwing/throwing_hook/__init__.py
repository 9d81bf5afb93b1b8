"""A test module whose call hook raises on every call (tests/data/faulty_modules/README.md)."""
