"""The behaviour of slotctl. Services take a Session and plain values, return plain
data (dicts keyed by the JSON fields of CLI.md), never print and never exit."""
