"""Sperrliste: callers on the block list reach no user; the call ends busy or in the voicemail.

This package ships alone inside the .sfm (python/sperrliste/) and imports its siblings
relatively; the host reaches it only through `sfm_module` (docs/MODULE_CONTRACT.md).
"""
