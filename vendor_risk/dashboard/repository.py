"""The dashboard's SQL: every list of what needs action today, in one statement.

Each list is read through an index (live incidents by status, open critical findings and
the review queue by partial indexes of 0060, agreements by expiry, requested scopes,
partners due for reassessment) and cut to its first rows. The counts over tens of
thousands of rows come from the counters of migration 0125, kept by triggers in the same
transactions as the changes (``repair_counters`` rebuilds them).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import asyncpg

from vendor_risk.partners.repository import DUE_AGREEMENTS_COUNT, DUE_AGREEMENTS_SQL

# Parameters: $1 today (UTC date), $2 the agreement expiry window in days, $3 the rows
# per list, $4 now. DUE_AGREEMENTS_* read $1 and $2.
DASHBOARD_SQL = f"""
WITH live_incidents AS (
    SELECT i.id, i.title, i.severity, i.status, i.partner_id, p.name AS partner_name,
           i.detected_at, i.next_due_at,
           (SELECT count(*) FROM incident_steps st
            WHERE st.incident_id = i.id AND st.status = 'pending' AND st.due_at <= $4) AS overdue_steps,
           array_position(ARRAY['low', 'medium', 'high', 'critical'], i.severity) AS severity_rank
    FROM incidents i JOIN partners p ON p.id = i.partner_id
    WHERE i.status IN ('suspected', 'open')
),
-- Due for reassessment, without the noise: a partner never assessed, or with a
-- questionnaire out (or one waiting for review), is not "reassessment due".
reassessments AS (
    SELECT p.id, p.name, p.tier, p.reassessment_due_at, p.reassessment_due_reason
    FROM partners p
    WHERE p.reassessment_due_at IS NOT NULL AND p.status IN ('active', 'suspended')
      AND EXISTS (SELECT 1 FROM assessments a
                  WHERE a.partner_id = p.id AND a.status = 'approved' AND a.kind <> 'offboarding')
      AND NOT EXISTS (SELECT 1 FROM assessments a
                      WHERE a.partner_id = p.id AND a.kind <> 'offboarding'
                        AND a.status IN ('sent', 'in_progress', 'changes_requested', 'submitted'))
)
SELECT
    (SELECT count(*) FROM live_incidents) AS incidents_count,
    (SELECT coalesce(jsonb_agg(x ORDER BY x.overdue_steps > 0 DESC, x.severity_rank DESC,
                                 x.next_due_at NULLS LAST, x.id), '[]')
     FROM (SELECT * FROM live_incidents
           ORDER BY overdue_steps > 0 DESC, severity_rank DESC, next_due_at NULLS LAST, id
           LIMIT $3) x) AS incidents,
    coalesce((SELECT n FROM dashboard_counts WHERE name = 'findings_critical_open'), 0) AS findings_count,
    (SELECT coalesce(jsonb_agg(x ORDER BY x.due_on NULLS LAST, x.created_at, x.id), '[]') FROM (
        SELECT f.id, f.title, f.status, f.due_on, f.created_at, f.partner_id, p.name AS partner_name
        FROM findings f JOIN partners p ON p.id = f.partner_id
        WHERE f.severity = 'critical' AND f.status IN ('open', 'remediating', 'verifying')
        ORDER BY f.due_on NULLS LAST, f.created_at, f.id LIMIT $3) x) AS findings,
    coalesce((SELECT n FROM dashboard_counts WHERE name = 'assessments_submitted'), 0) AS reviews_count,
    (SELECT coalesce(jsonb_agg(x ORDER BY x.submitted_at, x.id), '[]') FROM (
        SELECT a.id, a.kind, a.submitted_at, a.partner_id, p.name AS partner_name
        FROM assessments a JOIN partners p ON p.id = a.partner_id
        WHERE a.status = 'submitted'
        ORDER BY a.submitted_at, a.id LIMIT $3) x) AS reviews,
    coalesce((SELECT n FROM dashboard_counts WHERE name = 'scopes_requested'), 0) AS scopes_count,
    (SELECT coalesce(jsonb_agg(x ORDER BY x.created_at, x.id), '[]') FROM (
        SELECT s.id, s.partner_id, p.name AS partner_name, c.code AS category_code,
               jsonb_build_object('zh-CN', c.name_zh, 'en', c.name_en) AS category_name,
               c.sensitivity, s.created_at
        FROM scopes s
        JOIN partners p ON p.id = s.partner_id
        JOIN data_categories c ON c.id = s.category_id
        WHERE s.status = 'requested'
        ORDER BY s.created_at, s.id LIMIT $3) x) AS scopes,
    (SELECT coalesce(sum(d.n), 0)::bigint FROM dashboard_agreement_days d
     WHERE {DUE_AGREEMENTS_COUNT}) AS agreements_count,
    (SELECT coalesce(jsonb_agg(x ORDER BY x.expires_on, x.id), '[]') FROM (
        {DUE_AGREEMENTS_SQL.format(where="true")}) x) AS agreements,
    (SELECT count(*) FROM reassessments) AS reassessments_count,
    (SELECT coalesce(jsonb_agg(x ORDER BY x.reassessment_due_at, x.id), '[]') FROM (
        SELECT * FROM reassessments ORDER BY reassessment_due_at, id LIMIT $3) x) AS reassessments
"""


async def action_lists(
    conn: asyncpg.Connection, today: date, expiring_within_days: int, limit: int, now: datetime
) -> dict[str, Any]:
    """Every list the dashboard shows, with its full count: one round trip."""
    row = await conn.fetchrow(DASHBOARD_SQL, today, expiring_within_days, limit, now)
    return dict(row)


async def repair_counters(conn: asyncpg.Connection) -> int:
    """Rebuild the dashboard's counters from the tables (they are kept by triggers; this
    is the safety net after a bulk load or a missed case). Returns the rows corrected."""
    fixed: int = await conn.fetchval("SELECT dashboard_repair_counters()")
    return fixed
