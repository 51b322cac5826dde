"""Regular expressions for the ``matches`` operator, run by RE2 (``google-re2``).

Python's ``re`` backtracks: patterns such as ``((a+))+$`` or ``a*a*a*a*a*a*a*a*b`` take exponential or
high-polynomial time on a few dozen characters, and no syntactic guard catches every such shape.
RE2 runs in time linear in the text for a given pattern and refuses what it cannot do in linear time
(backreferences, lookarounds). Both the text and the pattern are bounded, so one match takes bounded
time: at most ``MAX_MATCHED_TEXT`` characters are searched, and a pattern is at most
``MAX_PATTERN_LENGTH`` characters and compiles to at most ``MAX_PATTERN_PROGRAM`` RE2 instructions
(RE2's worst case is proportional to the text's bytes times the program's size). See
docs/conditions.md, Regular expressions.

The validator (save time) and the evaluator (run time, for stored patterns that predate RE2) both
call :func:`compile_pattern`, so they refuse exactly the same patterns with the same words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

import re2

MAX_PATTERN_LENGTH: Final = 200
# Counted repetitions such as .{999} compile to thousands of instructions; measured on 10,000
# characters, patterns under this size match in tens of milliseconds, while larger ones exhaust RE2's
# DFA cache and fall back to its slower (still linear) NFA, hundreds of milliseconds each.
MAX_PATTERN_PROGRAM: Final = 3_000
# All of one rule's patterns together (checked when the rule is saved), so one evaluation of a rule's
# conditions stays bounded too: at most about three of the largest patterns.
MAX_RULE_PATTERN_PROGRAM: Final = 10_000
# Text longer than this is cut before a pattern sees it.
MAX_MATCHED_TEXT: Final = 10_000
RE2_SYNTAX_URL: Final = "https://github.com/google/re2/wiki/Syntax"

_OPTIONS: Final = re2.Options()
_OPTIONS.log_errors = False  # RE2 would print every refused pattern to stderr
_OPTIONS.never_capture = True  # only "is there a match" is asked


class PatternError(ValueError):
    """A pattern RE2 cannot use; the message says why, phrased to follow "the pattern"."""


@dataclass(frozen=True, slots=True)
class Pattern:
    """A compiled pattern; ``search(text)`` says whether it occurs in the text's first characters."""

    source: str
    regexp: Any  # re2._Regexp

    @property
    def size(self) -> int:
        """The compiled program's size in RE2 instructions (what its worst-case time grows with)."""
        return int(self.regexp.programsize)

    def search(self, text: str) -> bool:
        if len(text) > MAX_MATCHED_TEXT:
            text = text[:MAX_MATCHED_TEXT]
        return self.regexp.search(_utf8(text)) is not None


def _utf8(text: str) -> bytes:
    # TRICKY: JSON allows lone surrogates ("\ud800"), which strict UTF-8 cannot encode; RE2 sees
    # them as invalid bytes that no character class matches.
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def compile_pattern(source: object) -> Pattern:
    """The pattern compiled by RE2; raises PatternError saying what is unsupported or wrong."""
    if not isinstance(source, str) or not source:
        raise PatternError("is not a regular expression (a non-empty text)")
    if len(source) > MAX_PATTERN_LENGTH:
        raise PatternError(f"is longer than {MAX_PATTERN_LENGTH} characters")
    try:
        regexp = re2.compile(_utf8(source), _OPTIONS)
    except re2.error as error:
        raise PatternError(_explain(_message(error))) from None
    pattern = Pattern(source, regexp)
    if pattern.size > MAX_PATTERN_PROGRAM:
        raise PatternError(
            f"is too large once compiled ({pattern.size} RE2 instructions, at most {MAX_PATTERN_PROGRAM}): "
            "use smaller counted repetitions, such as + instead of {1,500}"
        )
    return pattern


def _message(error: Exception) -> str:
    message = error.args[0] if error.args else ""
    if isinstance(message, bytes):
        return message.decode("utf-8", "replace")
    return str(message)


_UNSUPPORTED: Final = "which RE2, the regular expression engine, does not support"
_GROUPS: Final = (
    (("(?=", "(?!"), "uses a lookahead such as (?=...) or (?!...)"),
    (("(?<=", "(?<!"), "uses a lookbehind such as (?<=...) or (?<!...)"),
    (("(?P=", "(?P>"), "uses a named backreference such as (?P=name)"),
    (("(?>",), "uses an atomic group (?>...)"),
    (("(?#",), "uses a comment (?#...)"),
    (("(?(",), "uses a conditional group such as (?(1)...)"),
)
_FLAGS_RE: Final = re.compile(r"\(\?[a-zA-Z-]*")


def _explain(message: str) -> str:
    """RE2's error message in the words a rule author needs (see docs/conditions.md)."""
    kind, _, argument = message.partition(": ")
    if kind == "invalid perl operator":
        for prefixes, what in _GROUPS:
            if argument.startswith(prefixes):
                return f"{what}, {_UNSUPPORTED}"
        if argument == "(?P":  # RE2 reports (?P=name) and (?P>name) by their first three characters
            return f"uses a named backreference such as (?P=name), {_UNSUPPORTED}"
        if _FLAGS_RE.fullmatch(argument) and len(argument) > 2:
            return f"uses the flag {argument[-1]} in {argument}...), {_UNSUPPORTED} (it supports i, m, s and U)"
    if kind == "invalid escape sequence":
        if argument[1:2].isdigit():
            return f"uses a backreference ({argument}), {_UNSUPPORTED}"
        if argument == r"\Z":
            return rf"uses \Z, {_UNSUPPORTED}: use \z for the end of the text"
        if argument in (r"\u", r"\U", r"\N"):
            return rf"uses the escape {argument}, {_UNSUPPORTED}: write a character by its code as \x{{e9}}"
        return f"uses the escape {argument}, {_UNSUPPORTED}"
    if kind == "bad repetition operator" and argument.endswith("+") and len(argument) == 2:
        return f"uses a possessive quantifier ({argument}), {_UNSUPPORTED}"
    if kind == "invalid repetition size":
        return f"repeats more than 1000 times ({argument}; nested counts multiply), {_UNSUPPORTED}"
    if kind == "pattern too large - compile failed":
        return "is too large once compiled: use smaller counted repetitions"
    return f"is not a valid regular expression: {message}"
