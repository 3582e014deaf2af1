"""Two-person approvals: decisions the policy says need a second, distinct risk owner."""
