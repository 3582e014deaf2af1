"""Charts drawn on the server as SVG: they need no JavaScript, print, and go into the PDFs.

Each chart carries a ``<title>`` and a ``<desc>`` (named by ``aria-labelledby``) and is
always shown beside a table of the same numbers (the templates render the table from the
same data), so a screen reader or a printout loses nothing. Every text is escaped here and
the result is ``Markup`` for the templates.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import date, datetime
from html import escape
from typing import Final
from urllib.parse import urlencode
from uuid import UUID

import asyncpg
import msgspec
from markupsafe import Markup

from vendor_risk.i18n import translator
from vendor_risk.reports.snapshots import LEVELS, RATINGS, HeatMap, Snapshot

FONT: Final = "Noto Sans CJK SC, Noto Sans CJK, sans-serif"
# Risk colours, low to critical (colour-blind safe ordering: lightness falls as risk rises).
CELL_COLOURS: Final = ("#eef6ee", "#fdf3d7", "#fbd9b6", "#f4a58a", "#d9534f")
# The heat map's columns: low to critical, then the partners not rated yet.
COLUMNS: Final = ("low", "medium", "high", "critical", "unrated")
SERIES_COLOURS: Final = ("#1f5f99", "#c0392b", "#e08a00", "#2e8b57", "#6c5b9b")


def _open(width: int, height: int, title: str, desc: str) -> tuple[str, str]:
    ident = f"c{secrets.token_hex(4)}"
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
        f'role="img" aria-labelledby="{ident}-t {ident}-d" font-family="{FONT}" font-size="12" class="chart">'
        f'<title id="{ident}-t">{escape(title)}</title><desc id="{ident}-d">{escape(desc)}</desc>'
    )
    return head, "</svg>"


def _cell_colour(tier: str, rating: str) -> str:
    if rating == "unrated":
        return "#f2f2f2"
    return CELL_COLOURS[min(len(CELL_COLOURS) - 1, LEVELS.index(tier) + LEVELS.index(rating))]


def heat_map_link(tier: str, rating: str) -> str:
    return "/ui/partners?" + urlencode({"tier": tier, "rating": rating})


def heat_map_svg(heat: HeatMap, lang: str) -> Markup:
    """Tier (rows, critical on top) × residual rating (columns, unrated last); each cell the
    number of live partners, linking to that filtered partner list."""
    t = translator(lang)
    left, top, cell_w, cell_h = 90, 40, 92, 46
    width, height = left + cell_w * len(RATINGS) + 10, top + cell_h * len(LEVELS) + 40
    head, tail = _open(width, height, t("rpt_heatmap_title"), t("rpt_heatmap_desc", total=heat.total))
    parts = [head]
    for col, rating in enumerate(COLUMNS):
        label = t("rpt_unrated") if rating == "unrated" else t(f"tier_{rating}")
        x = left + col * cell_w + cell_w / 2
        parts.append(f'<text x="{x}" y="{top - 10}" text-anchor="middle">{escape(label)}</text>')
    parts.append(
        f'<text x="{left + cell_w * len(RATINGS) / 2}" y="{height - 8}" text-anchor="middle" '
        f'font-weight="bold">{escape(t("rating"))}</text>'
    )
    for row, tier in enumerate(LEVELS[::-1]):
        y = top + row * cell_h
        tier_label = escape(t(f"tier_{tier}"))
        parts.append(f'<text x="{left - 8}" y="{y + cell_h / 2 + 4}" text-anchor="end">{tier_label}</text>')
        for col, rating in enumerate(COLUMNS):
            x = left + col * cell_w
            count = heat.cells[tier][rating]
            label = t(
                "rpt_heatmap_cell",
                tier=t(f"tier_{tier}"),
                rating=t("rpt_unrated") if rating == "unrated" else t(f"tier_{rating}"),
                count=count,
            )
            parts.append(
                f'<a href="{escape(heat_map_link(tier, rating))}" aria-label="{escape(label)}">'
                f'<rect x="{x + 1}" y="{y + 1}" width="{cell_w - 2}" height="{cell_h - 2}" rx="3" '
                f'fill="{_cell_colour(tier, rating)}" stroke="#999" stroke-width="0.5"/>'
                f'<text x="{x + cell_w / 2}" y="{y + cell_h / 2 + 5}" text-anchor="middle" font-size="15" '
                f'font-weight="bold">{count}</text></a>'
            )
    parts.append(
        f'<text x="12" y="{top + cell_h * len(LEVELS) / 2}" text-anchor="middle" font-weight="bold" '
        f'transform="rotate(-90 12 {top + cell_h * len(LEVELS) / 2})">{escape(t("tier"))}</text>'
    )
    parts.append(tail)
    return Markup("".join(parts))  # noqa: S704 - every text above is escaped


class Series(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    values: Sequence[float | None]


def line_chart_svg(title: str, desc: str, labels: Sequence[str], series: Sequence[Series]) -> Markup:
    """Lines over ``labels`` (one point each; a None is a gap), the y axis from 0, a legend."""
    left, right, top, bottom = 44, 12, 16, 58
    width, height = 640, 240
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for s in series for v in s.values if v is not None]
    peak = max(values, default=0.0)
    y_max = _nice(peak)
    head, tail = _open(width, height, title, desc)
    parts = [head]
    step = plot_w / max(1, len(labels) - 1)
    for i in range(5):
        tick = y_max * i / 4
        y = top + plot_h - plot_h * i / 4
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{tick:g}</text>')
    for i, label in enumerate(labels):
        x = left + step * i
        parts.append(f'<text x="{x:.1f}" y="{top + plot_h + 16}" text-anchor="middle">{escape(label)}</text>')
    for n, item in enumerate(series):
        colour = SERIES_COLOURS[n % len(SERIES_COLOURS)]
        runs: list[list[str]] = [[]]
        for i, value in enumerate(item.values):
            if value is None:
                runs.append([])
                continue
            x = left + step * i
            y = top + plot_h - (plot_h * value / y_max if y_max else 0)
            runs[-1].append(f"{x:.1f},{y:.1f}")
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{colour}"/>')
        for run in runs:
            if len(run) > 1:
                parts.append(
                    f'<polyline points="{" ".join(run)}" fill="none" stroke="{colour}" stroke-width="2"/>'
                )
        lx = left + (plot_w / max(1, len(series))) * n
        ly = height - 14
        parts.append(f'<rect x="{lx:.1f}" y="{ly - 9}" width="10" height="10" fill="{colour}"/>')
        parts.append(f'<text x="{lx + 14:.1f}" y="{ly}">{escape(item.name)}</text>')
    parts.append(tail)
    return Markup("".join(parts))  # noqa: S704 - every text above is escaped


def _nice(peak: float) -> float:
    if peak <= 0:
        return 1.0
    for candidate in (1, 2, 4, 5, 10, 20, 25, 40, 50, 100):
        scale = 10 ** max(0, len(str(int(peak))) - 2)
        if candidate * scale >= peak:
            return float(candidate * scale)
    return float(peak)


def month_label(day: date, lang: str) -> str:
    return f"{day.year % 100:02d}年{day.month}月" if lang == "zh-CN" else day.strftime("%b %y")


class TrendCharts(msgspec.Struct, kw_only=True):
    labels: list[str]
    points: list[Snapshot]
    score: Markup
    findings: Markup
    overdue: Markup
    activity: Markup


def trend_charts(points: Sequence[Snapshot], lang: str) -> TrendCharts:
    """The four trend charts of the portfolio over the snapshots given (one per month)."""
    t = translator(lang)
    labels = [month_label(p.day, lang) for p in points]
    span = t("rpt_trend_span", months=len(points))
    return TrendCharts(
        labels=labels,
        points=list(points),
        score=line_chart_svg(
            t("rpt_trend_score"),
            span,
            labels,
            [Series(name=t("rpt_average_score"), values=[p.average_score for p in points])],
        ),
        findings=line_chart_svg(
            t("rpt_trend_findings"),
            span,
            labels,
            [
                Series(name=t(f"severity_{s}"), values=[float(p.open_findings.get(s, 0)) for p in points])
                for s in ("critical", "high", "medium", "low")
            ],
        ),
        overdue=line_chart_svg(
            t("rpt_trend_overdue"),
            span,
            labels,
            [
                Series(name=t("rpt_overdue_findings"), values=[float(p.overdue_findings) for p in points]),
                Series(
                    name=t("rpt_overdue_assessments"), values=[float(p.overdue_assessments) for p in points]
                ),
            ],
        ),
        activity=line_chart_svg(
            t("rpt_trend_activity"),
            span,
            labels,
            [
                Series(name=t("rpt_sent"), values=[float(p.assessments_sent) for p in points]),
                Series(name=t("rpt_submitted"), values=[float(p.assessments_submitted) for p in points]),
                Series(name=t("rpt_approved"), values=[float(p.assessments_approved) for p in points]),
            ],
        ),
    )


# --- a partner's history -------------------------------------------------------------------------


class HistoryPoint(msgspec.Struct, kw_only=True):
    at: datetime
    score: float | None
    rating: str | None


class PartnerHistory(msgspec.Struct, kw_only=True):
    # Approved security assessments, oldest first.
    scores: list[HistoryPoint]
    # Each change of the stored residual rating, oldest first.
    ratings: list[HistoryPoint]


async def partner_history(conn: asyncpg.Connection, partner_id: UUID) -> PartnerHistory:
    scores = await conn.fetch(
        """
        SELECT reviewed_at AS at, score FROM assessments
        WHERE partner_id = $1 AND status = 'approved' AND kind <> 'offboarding'
        ORDER BY reviewed_at
        """,
        partner_id,
    )
    ratings = await conn.fetch(
        "SELECT rated_at AS at, score, rating FROM partner_ratings WHERE partner_id = $1 ORDER BY id",
        partner_id,
    )
    return PartnerHistory(
        scores=[HistoryPoint(at=r["at"], score=r["score"], rating=None) for r in scores],
        ratings=[HistoryPoint(at=r["at"], score=r["score"], rating=r["rating"]) for r in ratings],
    )


def partner_history_svg(history: PartnerHistory, lang: str) -> Markup:
    """The scores of the partner's approved assessments over time."""
    t = translator(lang)
    labels = [p.at.date().isoformat() for p in history.scores]
    return line_chart_svg(
        t("rpt_history_title"),
        t("rpt_history_desc", n=len(history.scores)),
        labels,
        [Series(name=t("score"), values=[p.score for p in history.scores])],
    )
