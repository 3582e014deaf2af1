"""Findings raised by assessments or reviewers, and risk acceptances."""
