"""Alembic migrations shipped inside the package (``script_location = slotctl:migrations``).

``HEAD`` lets every command check the schema version without importing Alembic;
a test keeps it equal to Alembic's own head.
"""

REVISIONS = ("0001", "0002")
HEAD = REVISIONS[-1]
