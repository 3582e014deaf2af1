"""The staff dashboard: what needs action today, across the domains."""
