"""What a spreadsheet does to a CSV file it opened and saved, each rule written once.

Every import asks these rules about the values it would write, whatever the record
type; a value they flag makes its row a bad row unless the operator passes
``--accept-changes``:

* **Lost leading zeros.** Calc and Excel read a text cell that holds a number
  (``030123456``, ``+4930123``, a note ``0012``) as that number, and save the
  number: ``30123456``. A value that equals the stored one less its leading zeros
  and ``+`` is refused (:func:`lost_zeros`; the same rule as SQL over a staging
  table, :func:`lost_zeros_sql`, for the record types imported set-based). Only an
  update can show it: a new record has no stored value to compare with.
* **Garbled text.** Calc's default import filter reads UTF-8 as Latin-1 or
  Windows-1252 (CP1252): ``Zoë`` becomes ``ZoÃ«``. Text that ftfy repairs as
  UTF-8 read in one of those (``ftfy.fix_encoding_and_explain``), or, where ftfy
  leaves a short sequence alone as plausible text (``HÃ¥kon``), text that is
  *exactly* the UTF-8 bytes of other text read so, is refused (:func:`garbled`),
  with what it was as the suggestion. Every text cell of a new record is
  checked, and of an existing record each one whose value would change: a stored
  value the file repeats is not new damage. ASCII text cannot be garbled, nor can
  text without a UTF-8 lead byte followed by a continuation byte (as those encodings
  read them: ``Ã«``), so the check costs one ``str.isascii()`` for almost every cell
  and a regular expression for most others; ftfy's verdicts are cached.

Pure Python, no SQL but the one expression; ftfy loads only when a cell is not ASCII.
"""

from __future__ import annotations

import re
from typing import Final

# The text fields each record type's rules look at (the others are slugs, numbers,
# dates, times, uuids and statuses, which their own parsers already hold to ASCII).
TEXT: Final[dict[str, tuple[str, ...]]] = {
    "exchanges": ("slug", "name"),
    "hours": (),
    "closures": ("reason",),
    "slots": (),
    "bookings": (
        "reference",
        "customer_name",
        "customer_email",
        "customer_phone",
        "notes",
        "cancellation_reason",
        "counter",
    ),
    "tickets": ("customer_name", "counter"),
    "waitlist": ("customer_name", "customer_email", "customer_phone"),
}
# The advice each reason ends with (no "; ": it joins the reasons of a row).
ADVICE_ZEROS: Final = "export as XLSX, or import the column as text"
ADVICE_GARBLED: Final = "re-open the file as UTF-8, or export as XLSX"
_DIGITS: Final = "0123456789"


# Lost leading zeros ---------------------------------------------------------------------


def lost_zeros(old: object, new: object) -> bool:
    """``new`` is the stored ``old`` read as a whole number: less its ``+`` and leading
    zeros (``030123456`` → ``30123456``, ``+4930123`` → ``4930123``, ``000`` → ``0``)."""
    if not isinstance(old, str) or not isinstance(new, str) or new in (old, ""):
        return False
    body = old[1:] if old[:1] == "+" else old
    return new.lstrip(_DIGITS) == "" and body != "" and (body.lstrip("0") or "0") == new


def lost_zeros_sql(old: str, new: str) -> str:
    """:func:`lost_zeros` as an SQL condition over two text expressions (``substr`` and
    ``ltrim`` with a set of characters mean the same on SQLite and PostgreSQL; a null
    is never damage)."""
    body = f"(CASE WHEN substr({old}, 1, 1) = '+' THEN substr({old}, 2) ELSE {old} END)"
    return (
        f"({old} <> {new} AND {new} <> '' AND ltrim({new}, '{_DIGITS}') = ''"
        f" AND {body} <> '' AND COALESCE(NULLIF(ltrim({body}, '0'), ''), '0') = {new})"
    )


def zeros_reason(column: str, old: str, new: str) -> str:
    cut = old[: len(old) - len(new)] if old.endswith(new) else old
    lost = "+ and zeros" if "+" in cut and "0" in cut else "+" if "+" in cut else "zeros"
    return (
        f"{column} {old} → {new} lost its leading {lost} (a spreadsheet read it as a"
        f" number): {ADVICE_ZEROS}"
    )


# Garbled text ---------------------------------------------------------------------------

# Garbled text holds a UTF-8 lead byte (C2-F4) followed by a continuation byte (80-BF),
# as Latin-1 or Windows-1252 read them: text without such a pair is never asked of ftfy
# (nor is ftfy loaded for it).
_LEAD: Final = bytes(range(0xC2, 0xF5)).decode("latin-1")  # Windows-1252 reads them alike
_NEXT: Final = "".join(
    sorted(
        {*bytes(range(0x80, 0xC0)).decode("latin-1")}
        | {*bytes(range(0x80, 0xC0)).decode("cp1252", errors="ignore")}
    )
)
_PAIR: Final = re.compile(f"[{re.escape(_LEAD)}][{re.escape(_NEXT)}]")
_VERDICTS: dict[str, str | None] = {}  # text -> what it was, or None
_CACHED: Final = 10_000  # verdicts kept (memory stays bounded)
_CACHED_LENGTH: Final = 200
_CODECS: Final = ("latin-1", "windows-1252")  # ftfy knows more, rarer, encodings


def garbled(text: str) -> str | None:
    """What ``text`` was when it looks like UTF-8 read as Latin-1 or Windows-1252
    (``ZoÃ«`` → ``Zoë``), else None."""
    if text.isascii() or _PAIR.search(text) is None:
        return None
    try:
        return _VERDICTS[text]
    except KeyError:
        pass
    verdict = _garbled(text)
    if len(text) <= _CACHED_LENGTH:  # names, phones: the values that repeat
        if len(_VERDICTS) >= _CACHED:
            _VERDICTS.clear()
        _VERDICTS[text] = verdict
    return verdict


def _garbled(text: str) -> str | None:
    import ftfy
    import ftfy.bad_codecs  # registers sloppy-windows-1252

    fixed, steps = ftfy.fix_encoding_and_explain(text)
    if (
        fixed != text
        and steps
        and steps[0][0] == "encode"
        and steps[0][1].removeprefix("sloppy-") in _CODECS
        and steps[-1] == ("decode", "utf-8")
    ):
        return fixed
    # ftfy leaves short sequences that are plausible text alone (``HÃ¥kon``); text that
    # is exactly the UTF-8 bytes of other text, read as Latin-1 or CP1252, is garbled.
    for codec in ("latin-1", "sloppy-windows-1252"):
        try:
            decoded = text.encode(codec).decode("utf-8")
        except UnicodeError:
            continue
        if decoded != text:
            return decoded
    return None


def garbled_reason(column: str, text: str, fixed: str) -> str:
    # Latin-1 and Windows-1252 read most garbled text alike: both are named.
    return (
        f"{column} {text!r} looks like UTF-8 read as Latin-1/Windows-1252 (did you mean"
        f" {fixed!r}?): {ADVICE_GARBLED}"
    )


def reasons(column: str, old: object, new: object, raw: str | None = None) -> list[str]:
    """Why writing ``new`` (the cell's text as given: ``raw``, when cleaning changed it)
    over the stored ``old`` (None for a new record) looks like a spreadsheet's damage."""
    found = []
    if isinstance(old, str) and isinstance(new, str) and lost_zeros(old, new):
        found.append(zeros_reason(column, old, new))
    text = raw if raw is not None else new
    if isinstance(text, str) and old != new:
        fixed = garbled(text)
        if fixed is not None:
            found.append(garbled_reason(column, text, fixed))
    return found
