"""What the user sees when something is wrong: the one exception type, reported by the CLI as one line, and
:func:`printable`, which every message naming a file goes through."""

from __future__ import annotations

import os


class ColorganError(Exception):
    """Bad input (missing data, unreadable file, unknown mask, foreign checkpoint): say what and how to fix it."""


def printable(text: str | os.PathLike[str]) -> str:
    """``text`` (a path, or a message naming one) as one line that any UTF-8 terminal, pipe or log can take.

    A file name need not be valid UTF-8 (b'caf\\xe9.jpg' from a Latin-1 system); Python holds each bad byte as a
    lone surrogate, which a strict UTF-8 stream refuses to print. Such bytes are shown as ``\\xNN`` (the name's
    real bytes), and control characters (a newline in a name) as their escapes, so a message stays one line.
    Valid names come back unchanged.
    """
    text = os.fspath(text)
    if text.isprintable():
        return text
    try:
        raw = text.encode("utf-8", "surrogateescape")  # the name's own bytes
    except UnicodeEncodeError:  # other lone surrogates (unpaired UTF-16 from Windows): shown as \udXXX
        raw = text.encode("utf-8", "backslashreplace")
    text = raw.decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)
