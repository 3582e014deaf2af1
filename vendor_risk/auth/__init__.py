"""Staff users, roles and API keys."""
