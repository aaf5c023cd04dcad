"""Exceptions the CLI turns into one-line messages with exit status 2."""


class MemorybenchError(Exception):
    """Base class: a problem the user can fix, reported in one line."""


class ConfigError(MemorybenchError, ValueError):
    """Bad input: unknown name, value out of range, malformed option."""


class PluginError(MemorybenchError, ImportError):
    """A plugin file, entry point or ``module:Class`` reference that cannot be used."""


class DataError(MemorybenchError, OSError):
    """A dataset file that is missing, corrupt or unusable."""
