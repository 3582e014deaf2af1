"""Hash-chained, tamper-evident audit trail."""

from vendor_risk.audit.service import record, record_many

__all__ = ["record", "record_many"]
