"""The build's error for bad metadata, templates or sources."""


class BuildError(ValueError):
    """The build was refused; the message names the file and field at fault."""
