"""Agreements (NDA, DPA, MSA, SLA) and their signed documents."""
