"""vendor-risk: third-party (partner) risk management."""
