"""Vendor records out of JSON, NDJSON and DevLake raw-table CSV files.

Vendor exports arrive in a few containers; this module turns each into a list of
:class:`Record` (the vendor's JSON object, the 1-based row it came from, and the
container's context) so that the importers only deal with vendor objects:

* **JSON document**: a list of objects, one object (a webhook payload, a single
  ``GET``), or an envelope holding the list (``value`` / ``count`` of Azure DevOps,
  ``result`` of ServiceNow, ``workflow_runs`` / ``jobs`` / ``environments`` of
  GitHub, ``incidents`` / ``log_entries`` of PagerDuty, ``data`` of Opsgenie,
  ``builds`` / ``allBuilds`` / ``jobs`` of a Jenkins job, ...).  Microsoft's REST
  documentation examples wrap the response as ``{"parameters", "responses":
  {"200": {"body": ...}}}``: the body is used.  The row of a record is the line on
  which its object starts.
* **NDJSON** (``.ndjson``/``.jsonl``, or a file of one JSON object per line): row =
  line number.
* **DevLake raw-table CSV** (header ``id,params,data,url,input,created_at``): ``data``
  holds the vendor object exactly as the API returned it; row = CSV data row (the
  header is row 0).  DevLake's own bookkeeping (``params``, ``input``,
  ``created_at``, a naive collection time) is not evidence of the vendor and is not
  mapped; only ``url`` (the request that produced the row) is offered to importers
  as context, e.g. for the build id of Azure DevOps timeline records.

Malformed input ends in an InputError naming the file, the line (or CSV row) and,
for DevLake CSVs, the ``data`` column: truncated or invalid JSON, a record that is
not an object, nesting deeper than :data:`MAX_DEPTH`, numbers too long to convert.
``peek`` reads at most :data:`PEEK_BYTES` of a file for format detection.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from ..errors import InputError
from .base import decode_text

__all__ = ["Record", "Container", "load", "peek", "Peek", "DEVLAKE_HEADER", "ENVELOPES",
           "get", "MAX_DEPTH", "stream", "Streamed", "StreamBroken"]

DEVLAKE_HEADER = ["id", "params", "data", "url", "input", "created_at"]
#: keys whose list value holds the records of an envelope object
ENVELOPES = ("value", "result", "workflow_runs", "jobs", "builds", "allBuilds", "incidents",
             "log_entries", "alerts", "data", "records", "environments", "deployments",
             "statuses", "runs", "items", "teams", "users", "priorities", "services",
             "escalation_policies")
#: keys whose object value is the one record of a single-record response
SINGLE_ENVELOPES = ("result", "incident", "alert", "data")
PEEK_BYTES = 1 << 20
#: JSON nested deeper than this is refused (a recursion bomb, never a real export)
MAX_DEPTH = 200


@dataclass
class Record:
    obj: dict[str, Any]
    row: int
    context: dict[str, Any] = field(default_factory=dict)


@dataclass
class Container:
    """What a file held: its records, the container kind and the envelope object."""

    kind: str                      # json | ndjson | devlake
    records: list[Record]
    envelope: dict[str, Any] = field(default_factory=dict)   # top-level keys besides the list
    envelope_key: str | None = None
    #: what ``Record.row`` counts: "line" (JSON/NDJSON), "row" (CSV data row) or
    #: "record" (several records share a line, e.g. minified JSON: the record number)
    row_kind: str = "line"


def get(obj: Any, *path: str | int, default: Any = None) -> Any:
    """``obj[path[0]][path[1]]...`` or ``default`` when any step is missing/null."""
    cur = obj
    for p in path:
        if isinstance(cur, dict):
            cur = cur.get(p)
        elif isinstance(cur, list) and isinstance(p, int) and -len(cur) <= p < len(cur):
            cur = cur[p]
        else:
            return default
        if cur is None:
            return default
    return cur


# ---- JSON parsing with errors that name the line ---------------------------------------------
def _depth_error(text: str, file: str, row: int | None, column: str | None) -> InputError:
    """The InputError for JSON nested too deeply, naming the line where it got too deep
    (json.loads raised RecursionError; this scan runs only then)."""
    depth = 0
    in_str = False
    esc = False
    line = 1
    for ch in text:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
            continue
        if ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                break
        elif ch in "]}":
            depth -= 1
        elif ch == "\n":
            line += 1
    return InputError(f"JSON nested deeper than {MAX_DEPTH} levels; not an export",
                      file=file, row=row if row is not None else line, column=column)


def _loads(text: str, file: str, *, row: int | None = None, column: str | None = None,
           line_base: int = 0) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        where = row if row is not None else exc.lineno + line_base
        tail = text.rstrip()
        truncated = exc.pos >= len(tail) or not tail.endswith(("}", "]"))
        short = "the JSON ends early (truncated?)" if truncated else "invalid JSON"
        raise InputError(f"{short}: {exc.msg} (line {exc.lineno + line_base}, "
                         f"character {exc.colno})", file=file, row=where, column=column) from None
    except RecursionError:
        raise _depth_error(text, file, row, column) from None
    except ValueError as exc:   # e.g. an integer with more digits than Python converts
        raise InputError(f"invalid JSON value: {exc}", file=file, row=row, column=column) from None


def _element_offsets(text: str, path: list[str]) -> list[int]:
    """Character offsets at which the elements of the record list start: the
    top-level list, or the list reached by following the object keys ``path``."""
    dec = json.JSONDecoder()
    ws = re.compile(r"\s*")
    i = ws.match(text, 0).end()
    for key in path:
        if text[i] != "{":
            return []
        i += 1
        while True:
            i = ws.match(text, i).end()
            if text[i] == "}":
                return []
            k, i = dec.raw_decode(text, i)
            i = ws.match(text, i).end() + 1         # ':'
            i = ws.match(text, i).end()
            if k == key:
                break
            _, i = dec.raw_decode(text, i)
            i = ws.match(text, i).end()
            if text[i] == ",":
                i += 1
    if text[i] != "[":
        return []
    i += 1
    out = []
    while True:
        i = ws.match(text, i).end()
        if text[i] == "]":
            return out
        out.append(i)
        _, i = dec.raw_decode(text, i)
        i = ws.match(text, i).end()
        if text[i] == ",":
            i += 1


def _unwrap(doc: Any) -> tuple[Any, str | None, dict[str, Any]]:
    """Strip Microsoft's ``responses.200.body`` wrapper and find the record list."""
    if isinstance(doc, dict) and isinstance(doc.get("responses"), dict):
        body = get(doc, "responses", "200", "body")
        if body is None:
            codes = ", ".join(doc["responses"]) or "none"
            raise ValueError(f"the documented responses hold no '200' body (codes: {codes})")
        doc = body
    if isinstance(doc, list):
        return doc, None, {}
    if isinstance(doc, dict):
        if _is_payload(doc):
            return [doc], None, {}
        for key in ENVELOPES:
            val = doc.get(key)
            if isinstance(val, list) and (not val or isinstance(val[0], dict)):
                return val, key, {k: v for k, v in doc.items() if k != key}
        for key in SINGLE_ENVELOPES:
            val = doc.get(key)
            if isinstance(val, dict) and len(doc) <= 4:
                return [val], None, {k: v for k, v in doc.items() if k != key}
        return [doc], None, {}
    return doc, None, {}


def _is_payload(doc: dict[str, Any]) -> bool:
    """Webhook payloads and single objects that merely contain a list of sub-objects."""
    return ("object_kind" in doc or "action" in doc or "workflow_run" in doc
            or "_links" in doc or "stageFlowNodes" in doc or "incident_number" in doc
            or "buildNumber" in doc or "fullDisplayName" in doc or "releaseDefinition" in doc
            or "sys_id" in doc)


def _is_devlake(header_line: str) -> bool:
    cols = [c.strip().strip('"').lower() for c in header_line.strip().split(",")]
    return cols == DEVLAKE_HEADER


def load(path: Path, data: bytes) -> Container:
    """Every record of a JSON, NDJSON or DevLake CSV file."""
    file = str(path)
    text = decode_text(data, file, lines=not re.match(rb'\s*"?id"?\s*,\s*"?params', data[:200], re.I))
    first_line = text.lstrip()[:4096].split("\n", 1)[0]
    if _is_devlake(first_line):
        return _load_devlake(text, file)
    stripped = text.lstrip()
    if not stripped.startswith(("{", "[")):
        raise InputError("not JSON (the first character is neither '{' nor '[')", file=file,
                         row=text[: len(text) - len(stripped)].count("\n") + 1)
    if path.suffix.lower() in (".ndjson", ".jsonl") or _looks_ndjson(stripped):
        return _load_ndjson(text, file)
    fast = _one_pass(text)
    if fast is not None:
        return fast
    doc = _loads(text, file)
    try:
        items, key, env = _unwrap(doc)
    except ValueError as exc:
        raise InputError(str(exc), file=file) from None
    if not isinstance(items, list):
        raise InputError("the JSON holds a single value, not records", file=file, row=1)
    offsets: list[int] | None = None
    records = []
    for i, obj in enumerate(items):
        if not isinstance(obj, dict):
            offsets = offsets if offsets is not None else _safe_offsets(text, key, doc)
            row = text.count("\n", 0, offsets[i]) + 1 if i < len(offsets) else i + 1
            raise InputError(f"record {i + 1} is a {type(obj).__name__}, not an object",
                             file=file, row=row)
        records.append(Record(obj, i + 1))
    cont = Container("json", records, env, key, row_kind="record")
    if len(items) > 1 or key is not None or isinstance(doc, list) or "responses" in doc:
        offsets = _safe_offsets(text, key, doc)
        if len(offsets) == len(records):
            # line numbers: count newlines incrementally (one pass over the text)
            line, pos = 1, 0
            lines = []
            for off in offsets:
                line += text.count("\n", pos, off)
                pos = off
                lines.append(line)
            if len(set(lines)) == len(lines):
                for rec, ln in zip(records, lines):
                    rec.row = ln
                cont.row_kind = "line"
    else:
        cont.row_kind = "line"
        for rec in records:
            rec.row = text[: len(text) - len(stripped)].count("\n") + 1
    return cont


_WS = re.compile(r"\s*")


def _array_with_offsets(text: str, i: int, dec: json.JSONDecoder) -> tuple[list[Any], list[int], int]:
    """Parse the array starting at ``text[i] == "["``: (elements, their offsets, end)."""
    ws = _WS.match
    i += 1
    items: list[Any] = []
    offsets: list[int] = []
    i = ws(text, i).end()
    if text[i] == "]":
        return items, offsets, i + 1
    while True:
        offsets.append(i)
        obj, i = dec.raw_decode(text, i)
        items.append(obj)
        i = ws(text, i).end()
        c = text[i]
        if c == ",":
            i = ws(text, i + 1).end()
        elif c == "]":
            return items, offsets, i + 1
        else:
            raise ValueError("expected , or ]")


def _one_pass(text: str) -> Container | None:
    """Records and their line numbers in one pass over a large document (a list, or an
    envelope object): parsing each record with ``raw_decode`` yields its offset too.
    ``None`` for anything else or anything wrong -- the careful path then runs (and
    names the error)."""
    if len(text) < (1 << 20):
        return None
    dec = json.JSONDecoder()
    ws = _WS.match
    try:
        i = ws(text, 0).end()
        if text[i] == "[":
            items, offsets, end = _array_with_offsets(text, i, dec)
            doc: Any = items
            key = None
        elif text[i] == "{":
            doc, key, offsets, items = {}, None, [], []
            i += 1
            while True:
                i = ws(text, i).end()
                if text[i] == "}":
                    end = i + 1
                    break
                k, i = dec.raw_decode(text, i)
                i = ws(text, i).end()
                if text[i] != ":":
                    return None
                i = ws(text, i + 1).end()
                if key is None and k in ENVELOPES and text[i] == "[":
                    items, offsets, i = _array_with_offsets(text, i, dec)
                    doc[k] = items
                    key = k
                else:
                    doc[k], i = dec.raw_decode(text, i)
                i = ws(text, i).end()
                if text[i] == ",":
                    i += 1
                elif text[i] != "}":
                    return None
        else:
            return None
        if text[end:].strip():
            return None
    except (ValueError, IndexError, RecursionError):
        return None
    try:
        items2, key2, env = _unwrap(doc)
    except ValueError:
        return None
    if key2 != key or not isinstance(items2, list) or items2 is not items or \
            any(not isinstance(o, dict) for o in items):
        return None
    records = []
    line, pos = 1, 0
    for obj, off in zip(items, offsets):
        line += text.count("\n", pos, off)
        pos = off
        records.append(Record(obj, line))
    cont = Container("json", records, env, key)
    if len({r.row for r in records}) != len(records):
        for n, r in enumerate(records, 1):
            r.row = n
        cont.row_kind = "record"
    return cont


class StreamBroken(Exception):
    """A streamed document turned out not to be a plain array of objects one per line
    (or had an error): read it again with :func:`load`, which names the problem."""


class Streamed:
    """The records of a large JSON document that is an array of objects, decoded one
    at a time as they are iterated (a 200,000-build Jenkins export need not be in
    memory as Python objects all at once).  Rows are line numbers, or record numbers
    when the first two records share a line (minified JSON); a later pair sharing a
    line raises :class:`StreamBroken`, as does anything malformed.  Iterate once;
    ``len`` is the number of records read.  :meth:`get` decodes the record of a row
    again (for telling duplicate records apart)."""

    def __init__(self, text: str, start: int) -> None:
        self.text = text
        self._start = start
        self._spans: dict[int, tuple[int, int]] = {}
        self._count = 0
        dec = json.JSONDecoder()
        self._dec = dec
        ws = _WS.match
        i = ws(text, start + 1).end()
        first_lines: list[int] = []
        j = i
        try:
            for _ in range(2):
                if text[j] == "]":
                    break
                first_lines.append(text.count("\n", 0, j))
                _, j = dec.raw_decode(text, j)
                j = ws(text, j).end()
                if text[j] == ",":
                    j = ws(text, j + 1).end()
        except (ValueError, IndexError, RecursionError):
            raise StreamBroken() from None
        self.row_kind = "record" if len(first_lines) == 2 and first_lines[0] == first_lines[1] \
            else "line"

    def __len__(self) -> int:
        return self._count

    def get(self, row: int, default: Any = None) -> Any:
        span = self._spans.get(row)
        if span is None:
            return default
        return json.loads(self.text[span[0]:span[1]])

    def __iter__(self) -> Iterator[Record]:
        text, dec, ws = self.text, self._dec, _WS.match
        by_line = self.row_kind == "line"
        spans = self._spans
        try:
            i = ws(text, self._start + 1).end()
            line, pos, last = 1, 0, 0
            if text[i] != "]":
                while True:
                    obj, end = dec.raw_decode(text, i)
                    if not isinstance(obj, dict):
                        raise StreamBroken()
                    self._count += 1
                    if by_line:
                        line += text.count("\n", pos, i)
                        pos = i
                        if line == last:
                            raise StreamBroken()
                        last = row = line
                    else:
                        row = self._count
                    spans[row] = (i, end)
                    yield Record(obj, row)
                    del obj
                    i = ws(text, end).end()
                    c = text[i]
                    if c == ",":
                        i = ws(text, i + 1).end()
                    elif c == "]":
                        break
                    else:
                        raise StreamBroken()
            if text[i + 1:].strip():
                raise StreamBroken()
        except (ValueError, IndexError, RecursionError):
            raise StreamBroken() from None


def stream(path: Path, data: bytes) -> Streamed | None:
    """A :class:`Streamed` for a large (over 1 MB) JSON document that is an array;
    None for anything else (use :func:`load`)."""
    if len(data) < (1 << 20) or path.suffix.lower() in (".ndjson", ".jsonl"):
        return None
    head = data[:4096].lstrip()
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:].lstrip()
    if not head.startswith(b"["):
        return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    start = len(text) - len(text.lstrip())
    if not text.startswith("[", start):
        return None
    try:
        return Streamed(text, start)
    except StreamBroken:
        return None


def _safe_offsets(text: str, key: str | None, doc: Any) -> list[int]:
    path = ["responses", "200", "body"] if isinstance(doc, dict) and "responses" in doc else []
    if key is not None:
        path.append(key)
    try:
        return _element_offsets(text, path)
    except (ValueError, IndexError):
        return []


def _looks_ndjson(stripped: str) -> bool:
    """One complete JSON object on the first line, and another object after it."""
    if not stripped.startswith("{"):
        return False
    first, _, rest = stripped.partition("\n")
    if not rest.strip().startswith("{"):
        return False
    try:
        json.loads(first)
    except (ValueError, RecursionError):
        return False
    return True


def _load_ndjson(text: str, file: str) -> Container:
    records = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        obj = _loads(line, file, row=n)
        if not isinstance(obj, dict):
            raise InputError(f"line holds a {type(obj).__name__}, not a JSON object", file=file, row=n)
        records.append(Record(obj, n))
    if not records:
        raise InputError("the file is empty", file=file)
    return Container("ndjson", records)


def _load_devlake(text: str, file: str) -> Container:
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    reader = csv.reader(io.StringIO(text))
    header = [h.strip().lower() for h in next(reader)]
    idx = {h: i for i, h in enumerate(header)}
    records = []
    try:
        for n, rec in enumerate(reader, 1):
            if not rec or rec == [""]:
                continue
            if len(rec) != len(header):
                col = header[len(rec)] if len(rec) < len(header) else f"#{len(rec)}"
                raise InputError(f"row has {len(rec)} fields, the header has {len(header)}",
                                 file=file, row=n, column=col)
            raw = rec[idx["data"]]
            if not raw.strip():
                raise InputError("the data column is empty", file=file, row=n, column="data")
            obj = _loads(raw, file, row=n, column="data")
            if not isinstance(obj, dict):
                raise InputError(f"data holds a {type(obj).__name__}, not a JSON object",
                                 file=file, row=n, column="data")
            records.append(Record(obj, n, {"url": rec[idx["url"]]}))
    except csv.Error as exc:
        raise InputError(f"malformed CSV: {exc}", file=file, row=reader.line_num - 1) from None
    if not records:
        raise InputError("the DevLake table has a header but no rows", file=file, row=1)
    return Container("devlake", records, row_kind="row")


# ---- peeking (format detection) -------------------------------------------------------------
@dataclass
class Peek:
    """A cheap look at a file for format detection: its first records (when JSON-ish)
    or its CSV header, the envelope keys and the DevLake request URL."""

    kind: str                              # json | ndjson | devlake | csv | xlsx | other
    samples: list[dict[str, Any]] = field(default_factory=list)
    header: list[str] = field(default_factory=list)
    first_row: list[str] = field(default_factory=list)
    envelope: dict[str, Any] = field(default_factory=dict)
    envelope_key: str | None = None
    url: str = ""

    def keys(self) -> set[str]:
        out: set[str] = set()
        for s in self.samples:
            out |= set(s)
        return out


_PEEK_CACHE: dict[tuple[str, int, int], Peek] = {}


def peek(path: Path) -> Peek:
    try:
        st = path.stat()
    except OSError:
        return Peek("other")
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    hit = _PEEK_CACHE.get(key)
    if hit is None:
        try:
            hit = _peek(path, st.st_size)
        except (OSError, InputError, ValueError, RecursionError, UnicodeError, csv.Error):
            hit = Peek("other")
        if len(_PEEK_CACHE) > 512:
            _PEEK_CACHE.clear()
        _PEEK_CACHE[key] = hit
    return hit


def _peek(path: Path, size: int) -> Peek:
    with open(path, "rb") as fh:
        head = fh.read(PEEK_BYTES)
    if head.startswith(b"PK\x03\x04"):
        return Peek("xlsx")
    if not head.strip():
        return Peek("other")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = head.decode("utf-16", "replace")
    else:
        text = head.decode("utf-8-sig", "replace")
    stripped = text.lstrip()
    first_line = stripped.split("\n", 1)[0]
    if _is_devlake(first_line):
        reader = csv.reader(io.StringIO(stripped))
        next(reader)
        samples, url = [], ""
        for rec in _take(reader, 3):
            if len(rec) == len(DEVLAKE_HEADER):
                try:
                    obj = json.loads(rec[2])
                except (ValueError, RecursionError):
                    continue
                if isinstance(obj, dict):
                    samples.append(obj)
                    url = url or rec[3]
        return Peek("devlake", samples=samples, url=url)
    if stripped.startswith(("{", "[")):
        if size <= PEEK_BYTES:
            try:
                doc = json.loads(stripped)
            except (ValueError, RecursionError):
                # NDJSON, or a damaged document whose first records still tell the format
                nd = _peek_ndjson(stripped)
                return nd if nd.samples else _peek_prefix(stripped)
            try:
                items, key, env = _unwrap(doc)
            except ValueError:
                return Peek("json")
            samples = [o for o in (items[:3] if isinstance(items, list) else []) if isinstance(o, dict)]
            return Peek("json", samples=samples, envelope=env, envelope_key=key)
        if _looks_ndjson(stripped):
            return _peek_ndjson(stripped)
        return _peek_prefix(stripped)
    # CSV-ish text
    reader = csv.reader(io.StringIO(stripped))
    try:
        header = next(reader)
        first = next(reader, [])
    except csv.Error:
        return Peek("other")
    if len(header) < 2:
        return Peek("other")
    return Peek("csv", header=[h.strip() for h in header], first_row=first)


def _take(it: Iterator[Any], n: int) -> list[Any]:
    out = []
    try:
        for x in it:
            out.append(x)
            if len(out) >= n:
                break
    except csv.Error:
        pass
    return out


def _peek_ndjson(text: str) -> Peek:
    samples = []
    for line in text.splitlines()[:5]:
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(obj, dict):
            samples.append(obj)
    return Peek("ndjson", samples=samples[:3]) if samples else Peek("other")


def _peek_prefix(text: str) -> Peek:
    """First records of a JSON document too large to parse for detection."""
    dec = json.JSONDecoder()
    ws = re.compile(r"\s*")
    samples: list[dict[str, Any]] = []
    env: dict[str, Any] = {}
    key = None
    try:
        i = ws.match(text, 0).end()
        if text[i] == "{":
            i += 1
            while len(samples) < 3:
                i = ws.match(text, i).end()
                if text[i] == "}":
                    break
                k, i = dec.raw_decode(text, i)
                i = ws.match(text, i).end() + 1
                i = ws.match(text, i).end()
                if text[i] == "[" and k in ENVELOPES:
                    key = k
                    samples = _first_elements(text, i, dec, ws)
                    break
                v, i = dec.raw_decode(text, i)
                env[k] = v
                i = ws.match(text, i).end()
                if text[i] == ",":
                    i += 1
        elif text[i] == "[":
            samples = _first_elements(text, i, dec, ws)
    except (ValueError, IndexError, RecursionError):
        pass
    return Peek("json", samples=samples, envelope=env, envelope_key=key)


def _first_elements(text: str, i: int, dec: json.JSONDecoder, ws: re.Pattern[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    i += 1
    try:
        while len(out) < 3:
            i = ws.match(text, i).end()
            if text[i] == "]":
                break
            obj, i = dec.raw_decode(text, i)
            if isinstance(obj, dict):
                out.append(obj)
            i = ws.match(text, i).end()
            if text[i] == ",":
                i += 1
    except (ValueError, IndexError, RecursionError):
        pass
    return out
