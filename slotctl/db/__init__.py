"""Persistence: models, engine factory and migrations. Imports no service or CLI code."""
