"""`mobius`: the command line, split by command group (services, routing, budget, analytics, tools)."""
