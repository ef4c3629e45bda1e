r"""File names as text a person can trust: hidden and direction-changing characters shown as escapes.

A name holding U+202E (right-to-left override) reads backwards from there on: U+202E
followed by "gnp.exe.txt" is shown as "txt.exe.png", and a citation after it is reversed.
Such characters, the other bidirectional controls and marks, invisible format characters
and control characters are written as ``\uNNNN`` (``\xNN`` below U+0100) wherever a name
is shown; the name itself (``source`` in results) stays the real one. Zero-width joiners
(U+200C, U+200D) stay: they belong to emoji and to Persian and Indic words.
"""

from __future__ import annotations

import re

#: Controls (C0, DEL, C1), soft hyphen, Arabic letter mark, Mongolian vowel separator,
#: zero-width space, LRM/RLM, embeddings and overrides (U+202A–202E), word joiner and
#: invisible operators (U+2060–2064), isolates and deprecated format controls
#: (U+2066–206F), byte-order mark, interlinear annotation controls.
_HIDDEN = re.compile(
    "[\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]"
)


def visible(name: str) -> str:
    r"""``name`` with every hidden or direction-changing character written as ``\xNN`` or ``\uNNNN``."""
    return _HIDDEN.sub(lambda match: _escape(match[0]), name)


def _escape(char: str) -> str:
    """One character as a backslash escape."""
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
