"""Reading .xlsx workbooks safely: the archive is inspected before python-calamine
opens it.

Checks, in order (each failure is an InputError naming the file and, where it
helps, the archive member in ``column``):

* the bytes are a ZIP archive (a legacy ``.xls`` or a password-protected workbook,
  an OLE compound file, is refused with advice to save as ``.xlsx``);
* at most :data:`MAX_MEMBERS` members; the declared uncompressed size of all
  members at most :data:`MAX_UNCOMPRESSED` bytes (four times the file limit, at
  least 256 MiB); no member expands more than :data:`MAX_RATIO` times
  (ZIP bombs);
* ``xl/workbook.xml`` exists (it is a workbook);
* no XML part declares a DTD or entities (``<!DOCTYPE`` / ``<!ENTITY`` before the
  root element: billion-laughs and external-entity attacks); the prolog of every
  ``.xml`` / ``.rels`` part is read as a stream up to its root element, and parts up
  to 2 MiB are also parsed with ``defusedxml`` (which forbids DTDs).

Only then is the workbook read with python-calamine (never openpyxl).  Cells come
back as Python values and are turned into text for schema validation: whole
floats lose their ``.0``, booleans become ``true``/``false``, dates and times are
ISO 8601 *without* a zone (Excel has none: the import asks for ``--source-tz``).
Text is kept exactly as written -- a cell reading ``=HYPERLINK(...)`` stays that
text; neutralising formula-looking text is the Excel report writer's job.
"""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime, time, timedelta
from typing import Any

from ..errors import InputError

__all__ = ["read_workbook", "cell_text", "MAX_RATIO", "MAX_MEMBERS", "MAX_UNCOMPRESSED"]

MAX_RATIO = 200
MAX_MEMBERS = 10_000
MAX_UNCOMPRESSED = 1024**3
_PARSE_FULLY = 2 * 1024**2


def _inspect(data: bytes, file: str, limit: int) -> None:
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise InputError("a legacy .xls or password-protected workbook (OLE file); open it in "
                         "Excel and save as .xlsx without a password", file=file)
    if not data.startswith(b"PK"):
        raise InputError("not an .xlsx workbook (not a ZIP archive)", file=file)
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise InputError(f"not a readable .xlsx workbook (damaged ZIP archive: {exc})", file=file) from None
    if len(infos) > MAX_MEMBERS:
        raise InputError(f"the workbook archive has {len(infos)} parts (more than {MAX_MEMBERS}); "
                         "refused as a possible ZIP bomb", file=file)
    total = sum(i.file_size for i in infos)
    if total > limit:
        raise InputError(f"the workbook would expand to {total / 1024**2:,.0f} MB (limit "
                         f"{limit / 1024**2:,.0f} MB); refused as a possible ZIP bomb", file=file)
    for i in infos:
        if i.file_size > 1024**2 and i.file_size > MAX_RATIO * max(1, i.compress_size):
            raise InputError(f"part {i.filename} expands {i.file_size / max(1, i.compress_size):,.0f} "
                             f"times (limit {MAX_RATIO}); refused as a possible ZIP bomb",
                             file=file, column=i.filename)
    names = {i.filename for i in infos}
    if "xl/workbook.xml" not in names:
        raise InputError("not an .xlsx workbook (the archive has no xl/workbook.xml)", file=file)
    for i in infos:
        if not i.filename.endswith((".xml", ".rels", ".vml")):
            continue
        try:
            _check_prolog(zf, i, file)
            if i.file_size <= _PARSE_FULLY:
                _defused(zf.read(i), i.filename, file)
        except InputError:
            raise
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError) as exc:
            raise InputError(f"part {i.filename} of the workbook cannot be read ({exc})",
                             file=file, column=i.filename) from None


def _check_prolog(zf: zipfile.ZipFile, info: zipfile.ZipInfo, file: str) -> None:
    """Read a part up to its root element and refuse DTDs / entity declarations."""
    seen = b""
    with zf.open(info) as fh:
        while True:
            chunk = fh.read(65536)
            if not chunk:
                break
            seen += chunk
            upper = seen.upper()
            if b"<!DOCTYPE" in upper or b"<!ENTITY" in upper:
                raise InputError(f"part {info.filename} declares a DTD or entities (an XML entity "
                                 "bomb or external entity); refused", file=file, column=info.filename)
            if _root_started(seen):
                return
            if len(seen) > 64 * 1024**2:
                raise InputError(f"part {info.filename} has an XML prolog over 64 MB; refused",
                                 file=file, column=info.filename)


def _root_started(buf: bytes) -> bool:
    i = 0
    while True:
        i = buf.find(b"<", i)
        if i < 0 or i + 1 >= len(buf):
            return False
        nxt = buf[i + 1:i + 2]
        if nxt not in (b"?", b"!"):
            return True
        if buf[i + 1:i + 4] == b"!--":
            end = buf.find(b"-->", i)
        else:
            end = buf.find(b">", i)
        if end < 0:
            return False
        i = end + 1


def _defused(blob: bytes, member: str, file: str) -> None:
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import ParseError, fromstring

    try:
        fromstring(blob, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise InputError(f"part {member} uses forbidden XML ({type(exc).__name__}); refused",
                         file=file, column=member) from None
    except ParseError as exc:
        raise InputError(f"part {member} is not well-formed XML ({exc})", file=file, column=member) from None


def read_workbook(data: bytes, file: str, *, limit: int = MAX_UNCOMPRESSED) -> dict[str, list[list[Any]]]:
    """Every sheet of an .xlsx workbook as rows of Python values (after the checks)."""
    _inspect(data, file, max(limit, 256 * 1024**2))
    import python_calamine as pc

    try:
        wb = pc.CalamineWorkbook.from_filelike(io.BytesIO(data))
        out = {}
        for name in wb.sheet_names:
            out[name] = wb.get_sheet_by_name(name).to_python()
        return out
    except MemoryError:
        raise InputError("not enough memory to read this workbook", file=file) from None
    except Exception as exc:  # calamine raises its own error types (CalamineError, XmlError, ZipError, ...)
        raise InputError(f"the workbook cannot be read: {type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else ''}", file=file) from None


def cell_text(v: Any) -> str | None:
    """A cell value as the text schema validation expects (see the module docstring)."""
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if v != v:
            return None
        return str(int(v)) if v.is_integer() and abs(v) < 2**53 else repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, time):
        return v.isoformat()
    if isinstance(v, timedelta):
        return str(v)
    s = str(v)
    return s if s.strip() != "" else None
