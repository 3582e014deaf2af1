"""Hash-chained, tamper-evident audit trail."""

from vendor_risk.audit.service import record

__all__ = ["record"]
