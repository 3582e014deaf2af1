"""Incidents run by playbooks: steps with owners and deadlines, containment, art. 57 record."""
