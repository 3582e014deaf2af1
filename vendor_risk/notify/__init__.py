"""Outbox, email and webhooks."""
