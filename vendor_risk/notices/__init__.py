"""Security notices published to partners, and their acknowledgements (issue 14)."""
