"""The one exception type that means "the user's input is wrong", reported by the CLI as one line."""


class ColorganError(Exception):
    """Bad input (missing data, unreadable file, unknown mask, foreign checkpoint): say what and how to fix it."""
