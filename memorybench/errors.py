"""Exceptions the CLI reports in one line (exit status 2), and the checks that raise them."""

from __future__ import annotations

import numbers
import re
from typing import Any


class MemorybenchError(Exception):
    """Base class: a problem the user can fix, reported in one line."""


class ConfigError(MemorybenchError, ValueError):
    """Bad input: unknown name, value out of range, malformed option."""


class PluginError(MemorybenchError, ImportError):
    """A plugin file, entry point or ``module:Class`` reference that cannot be used."""


class DataError(MemorybenchError, OSError):
    """A dataset file that is missing, corrupt or unusable."""


class OutputError(MemorybenchError, OSError):
    """Results or a report that cannot be written (a read-only folder, a full disk, a path
    that is a file or a symbolic link): says what and where."""


# -- helpers every layer shares (argument checks, one-line messages) -------------------------
def check_positive(field: str, value: Any, owner: str | None = None) -> None:
    """ConfigError unless ``value`` is an integer >= 1 (a bool is not); ``owner`` (a class or
    task name) opens the message."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        where = f"{owner}: " if owner else ""
        raise ConfigError(f"{where}{field} must be a positive integer, got {value!r}")


def check_int(name: str, value: Any, minimum: int, owner: str | None = None) -> None:
    """ConfigError unless ``value`` is an integer (numpy's too, not a bool) >= ``minimum``."""
    where = f"{owner}: " if owner else ""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ConfigError(f"{where}{name} must be an integer >= {minimum}, got {value!r}")


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# Keras wraps an error raised inside ``call`` in its own preamble lines, then the original
# message, then "Arguments received by ...": keep the original message
_KERAS_PREAMBLE = ("Exception encountered when calling", "Could not automatically infer")


def one_line(exc: BaseException) -> str:
    """``Type: message`` on one line: the message without Keras' ANSI codes, preamble and
    argument listing, its lines joined by spaces."""
    text = _ANSI.sub("", str(exc)).split("\n\nArguments received", 1)[0]
    lines = [t.strip() for t in text.splitlines() if t.strip()]
    useful = [t for t in lines if not t.startswith(_KERAS_PREAMBLE)] or lines
    return f"{type(exc).__name__}: {' '.join(useful)}".rstrip(": ")


def os_error_line(exc: OSError, action: str) -> str:
    """``cannot write report: no space left on device (ENOSPC): results/report/x.csv``: an
    ``OSError`` in one line, with its errno's name and the file it names."""
    import errno as _errno
    import os

    code = _errno.errorcode.get(exc.errno, "") if exc.errno else ""
    why = exc.strerror or (os.strerror(exc.errno) if exc.errno else "") or str(exc) or type(
        exc).__name__
    where = exc.filename if exc.filename is not None else ""
    return f"cannot {action}: {why[:1].lower() + why[1:]}" + (f" ({code})" if code else "") + (
        f": {printable(str(where))}" if where != "" else "")


# ANSI / VT escape sequences (CSI, OSC, and two-character ESC sequences), C0 and C1 control
# characters, and the Unicode bidirectional overrides that reorder what a terminal shows
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
                      r"|\x1b[@-_]?|\x9b[0-?]*[ -/]*[@-~]")
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: Any) -> str:
    """``text`` safe for a terminal: escape sequences and control characters removed, tabs and
    newlines as spaces. Anything read from results passes through it before it is printed."""
    s = _ESCAPES.sub("", str(text))
    return _CONTROLS.sub("", s.replace("\t", " ").replace("\n", " ").replace("\r", " "))
