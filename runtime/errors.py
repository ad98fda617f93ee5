"""Errors that are the user's to fix: the CLI prints them in one line and exits 2."""


class UsageError(Exception):
    """A bad argument, an unreachable address, a missing file: say what and what to do."""
