"""The one error the rule engine raises for input it refuses."""


class ConfigError(ValueError):
    """A pattern, number or instance setting was refused.

    The message is one or two sentences that name the field, the line and the culprit,
    fit to show an admin as they are.
    """
