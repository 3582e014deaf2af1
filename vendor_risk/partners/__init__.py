"""Partner records, lifecycle and tiering."""
