"""Calendar definitions as the policy states them: weekly business-hour spans and
holidays (ISO dates, or country codes resolved with the ``holidays`` package).

Kept apart from :mod:`workbench.engine.calendar` (which builds the business-time
tables) so that validating a policy needs no engine import.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from functools import lru_cache

__all__ = ["WEEKDAYS", "parse_spans", "is_country_code", "holiday_dates"]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPAN_RE = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_COUNTRY_RE = re.compile(r"^([A-Z]{2,3})(?:-([A-Z0-9]{1,4}))?$")


def parse_spans(text: str) -> tuple[tuple[int, int], ...]:
    """``"09:00-17:00"`` or ``"09:00-12:00, 13:00-17:00"`` -> minute spans, sorted.

    Raises ``ValueError`` for a malformed, empty, reversed or overlapping span."""
    spans = []
    for part in str(text).split(","):
        m = _SPAN_RE.match(part.strip())
        if not m:
            raise ValueError(f"{part.strip()!r} is not HH:MM-HH:MM")
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2):
            raise ValueError(f"{part.strip()!r} is not a time of day")
        a, b = h1 * 60 + m1, h2 * 60 + m2
        if b <= a:
            raise ValueError(f"{part.strip()!r} ends before it starts (spans cannot cross midnight)")
        spans.append((a, b))
    spans.sort()
    for (_, e), (s, _) in zip(spans, spans[1:]):
        if s < e:
            raise ValueError(f"spans in {text!r} overlap")
    return tuple(spans)


def is_country_code(text: str) -> bool:
    """Whether ``text`` names a country (or ``CC-SUBDIV``) the holidays package knows."""
    m = _COUNTRY_RE.match(str(text))
    if not m:
        return False
    import holidays

    supported = holidays.list_supported_countries()
    if m.group(1) not in supported:
        return False
    return m.group(2) is None or m.group(2) in supported[m.group(1)]


@lru_cache(maxsize=256)
def _country_days(code: str, first: int, last: int) -> tuple[date, ...]:
    import holidays

    country, _, subdiv = code.partition("-")
    h = holidays.country_holidays(country, subdiv=subdiv or None, years=range(first, last + 1))
    return tuple(sorted(h))


def holiday_dates(entries: Sequence[str], first_year: int, last_year: int) -> list[date]:
    """Holiday dates of ``entries`` (ISO dates and country codes) in the given years."""
    out: set[date] = set()
    for e in entries:
        e = str(e).strip()
        if _DATE_RE.match(e):
            out.add(date.fromisoformat(e))
        else:
            out.update(_country_days(e, first_year, last_year))
    return sorted(out)
