"""The behaviour of slotctl. Services take a Session and plain values, return plain
data (the typed records of slotctl.records, keyed by the JSON fields of docs/cli.md),
never print and never exit."""
