"""Data categories, data-sharing scopes, sub-processors and impact assessments."""
