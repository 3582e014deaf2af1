"""Questionnaire templates kept as YAML, their validation and the scoring engine."""
