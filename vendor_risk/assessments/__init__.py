"""Assessments: sending a questionnaire by link, the partner portal, review and rating."""
