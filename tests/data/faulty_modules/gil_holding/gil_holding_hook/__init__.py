"""A test module whose call hook holds the GIL (tests/data/faulty_modules/README.md)."""
