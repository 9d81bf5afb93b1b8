"""The vendor's build: turns module_src/ into dist/*.sfm."""
