"""The firm's client register and the clients an incident affects."""
