"""The host's error for input it refuses (uploads, PBX files, licences, form fields)."""


class Refused(ValueError):
    """Input refused: nothing was changed; the message names the file, line or field."""
