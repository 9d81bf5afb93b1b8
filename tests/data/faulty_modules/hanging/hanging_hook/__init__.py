"""A test module whose call hook never returns (tests/data/faulty_modules/README.md)."""
