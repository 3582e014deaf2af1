"""The XLSX export writes its rows' XML itself (XlsxWriter only packages the book): every
kind of value reads back as XlsxWriter would have written it, whatever characters a text
holds, and the sheet keeps its frozen header, widths and filter."""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from pathlib import Path

import openpyxl
import xlsxwriter

from vendor_risk.reports import exports

COLUMNS = (
    exports.Column(key="text", header="rpt_col_partner", width=30),
    exports.Column(key="status", header="status", kind="label", prefix="pstatus_", width=10),
    exports.Column(key="score", header="score", kind="number", width=8),
    exports.Column(key="due", header="rpt_col_due", kind="date", width=12),
    exports.Column(key="at", header="rpt_col_created_at", kind="datetime", width=22),
    exports.Column(key="flag", header="overdue", kind="bool", width=8),
)
TEXTS = [
    "<b>a & b</b> \"quoted\" 'single'",
    "  leading and trailing spaces\t",
    "line one\nline two",
    "bell \x07 and escape \x1b and carriage\rreturn",
    "looks escaped: _x0041_ and _X00ff_",
    "\ufffe and \uffff",
    "中文名称（全角括号）、顿号",
    '=HYPERLINK("http://evil.example")',
    "x" * 40_000,
]


def xlsxwriter_cells(path: Path, cells: exports.Cells, rows: list[dict[str, object]]) -> list[list[object]]:
    """The same rows through XlsxWriter's own typed writers, read back."""
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = book.add_worksheet()
    day = book.add_format({"num_format": "yyyy-mm-dd"})
    converters = cells.converters(COLUMNS)
    for number, values in enumerate(rows, start=1):
        for index, cell in enumerate(exports._cells(converters, values)):
            if isinstance(cell, str) or (isinstance(cell, float) and math.isnan(cell)):
                sheet.write_string(number, index, str(cell))
            elif isinstance(cell, date):
                sheet.write_datetime(number, index, cell, day)
            elif cell is not None:
                sheet.write_number(number, index, cell)
    book.close()
    ws = openpyxl.load_workbook(path).active
    assert ws is not None
    return [[c.value for c in r] for r in ws.iter_rows(min_row=2, max_col=len(COLUMNS))]


def test_every_kind_of_cell_reads_back(tmp_path: Path) -> None:
    path = str(tmp_path / "cells.xlsx")
    cells = exports.Cells("zh-CN")
    sheet = exports._Sheet(path, "单元格", COLUMNS, cells)
    moment = datetime(2026, 3, 1, 4, 5, 6, tzinfo=UTC)
    rows = [
        {"text": text, "status": "active", "score": 87.5, "due": date(2026, 3, 1), "at": moment, "flag": True}
        for text in TEXTS
    ]
    rows.append({"text": None, "status": None, "score": None, "due": None, "at": None, "flag": None})
    rows.append(
        {
            "text": "n",
            "status": "proposed",
            "score": math.nan,
            "due": date(1900, 3, 1),
            "at": None,
            "flag": False,
        }
    )
    rows.append(
        {"text": "big", "status": "active", "score": 12345678901, "due": None, "at": None, "flag": None}
    )
    sheet.write(rows[:4])
    sheet.write(rows[4:])
    sheet.close()

    book = openpyxl.load_workbook(path)
    ws = book.active
    assert ws is not None
    assert ws.title == "单元格"
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == f"A1:F{len(rows) + 1}"
    assert round(ws.column_dimensions["A"].width) == 31  # XlsxWriter adds its padding
    header = next(iter(ws.iter_rows(max_row=1)))
    assert [c.value for c in header] == cells.headers(COLUMNS)
    assert all(c.font.b for c in header)
    got = [[c.value for c in r] for r in ws.iter_rows(min_row=2)]
    assert got == xlsxwriter_cells(tmp_path / "reference.xlsx", cells, rows)
    t = cells.t
    for text, values in zip(TEXTS, got, strict=False):
        # Excel reads _xHHHH_ back as the character; openpyxl leaves it as written.
        if not re.search(r"[\x00-\x08\x0b-\x1f\ufffe\uffff]|_x[0-9a-fA-F]{4}_", text):
            assert values[0] == exports.neutralise(text)[:32767], text[:40]
        assert values[1:] == [
            t("pstatus_active"),
            87.5,
            datetime(2026, 3, 1),  # noqa: DTZ001 - as openpyxl reads a date
            "2026-03-01 12:05:06 +08:00",
            t("rpt_yes"),
        ]
    assert got[len(TEXTS)] == [None] * 6
    # A NaN is no number Excel has: it is written as its text.
    early = datetime(1900, 3, 1)  # noqa: DTZ001 - as openpyxl reads a date
    assert got[len(TEXTS) + 1] == ["n", t("pstatus_proposed"), "nan", early, None, t("rpt_no")]
    assert got[len(TEXTS) + 2][:3] == ["big", t("pstatus_active"), 12345678901]
    due = ws.cell(row=2, column=4)
    assert due.number_format == "yyyy-mm-dd"
