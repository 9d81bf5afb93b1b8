#!/usr/bin/env python3
"""The vendor's entry point: `python build.py [--variant current|legacy|all]` is `sfm build`."""

import sys

from sfm_cli.main import main

if __name__ == "__main__":
    sys.exit(main(["build", *sys.argv[1:]]))
