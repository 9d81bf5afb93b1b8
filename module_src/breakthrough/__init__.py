"""Breakthrough: lets chosen callers reach chosen users through DND and call forwards.

This package is the module's own code. It is shipped inside the .sfm and loaded by the
host's shim; it knows nothing of Java, HTTP or SQLite.
"""
