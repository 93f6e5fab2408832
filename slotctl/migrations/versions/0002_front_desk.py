"""the front desk: check-in, tickets and the waitlist

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 16:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# The statuses as this revision knows them (a later revision may add more).
OLD_STATUSES = "('pending', 'confirmed', 'completed', 'no_show', 'cancelled')"
STATUSES = "('pending', 'confirmed', 'arrived', 'completed', 'no_show', 'cancelled')"
OLD_ACTIVE = "status IN ('pending', 'confirmed')"
ACTIVE = "status IN ('pending', 'confirmed', 'arrived')"


def _record_columns() -> list[sa.Column[object]]:
    """The columns every table has."""
    return [
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]


def _reference(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def _active_index(batch_op: object, where: str) -> None:
    batch_op.create_index(  # type: ignore[attr-defined]
        "uq_bookings_active_customer",
        ["time_slot_id", "customer_email"],
        unique=True,
        sqlite_where=sa.text(where),
        postgresql_where=sa.text(where),
    )


def upgrade() -> None:
    with op.batch_alter_table("exchanges", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("checkin_early_minutes", sa.Integer(), server_default="30", nullable=False)
        )
        batch_op.add_column(
            sa.Column("late_after_minutes", sa.Integer(), server_default="10", nullable=False)
        )
        batch_op.create_check_constraint("checkin_early", "checkin_early_minutes >= 0")
        batch_op.create_check_constraint("late_after", "late_after_minutes >= 0")

    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("arrived_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("called_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("counter", sa.String(length=50), nullable=True))
        batch_op.drop_constraint(op.f("ck_bookings_status"), type_="check")
        batch_op.create_check_constraint("status", f"status IN {STATUSES}")
        batch_op.drop_index(
            "uq_bookings_active_customer",
            sqlite_where=sa.text(OLD_ACTIVE),
            postgresql_where=sa.text(OLD_ACTIVE),
        )
        _active_index(batch_op, ACTIVE)

    with op.batch_alter_table("booking_events", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_booking_events_to_status"), type_="check")
        batch_op.create_check_constraint("to_status", f"to_status IN {STATUSES}")

    op.create_table(
        "tickets",
        sa.Column("exchange_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=True),
        sa.Column("customer_name", sa.String(length=200), nullable=False),
        sa.Column("customer_email", sa.String(length=320), nullable=True),
        sa.Column("customer_phone", sa.String(length=50), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="waiting", nullable=False),
        sa.Column("arrived_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("called_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("served_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("counter", sa.String(length=50), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("on_time", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        *_record_columns(),
        sa.CheckConstraint("kind IN ('appointment', 'walkin')", name=op.f("ck_tickets_kind")),
        sa.CheckConstraint("seq > 0", name=op.f("ck_tickets_seq")),
        sa.CheckConstraint(
            "status IN ('waiting', 'called', 'served', 'no_show', 'left')",
            name=op.f("ck_tickets_status"),
        ),
        _reference("tickets", "booking_id", "bookings", "CASCADE"),
        _reference("tickets", "exchange_id", "exchanges", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tickets")),
        sa.UniqueConstraint(
            "exchange_id", "day", "kind", "seq", name=op.f("uq_tickets_exchange_id_day_kind_seq")
        ),
        sa.UniqueConstraint("uuid", name=op.f("uq_tickets_uuid")),
    )
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tickets_booking_id"), ["booking_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_tickets_exchange_id_status"), ["exchange_id", "status"], unique=False
        )

    op.create_table(
        "waitlist_entries",
        sa.Column("exchange_id", sa.Integer(), nullable=False),
        sa.Column("customer_name", sa.String(length=200), nullable=False),
        sa.Column("customer_email", sa.String(length=320), nullable=False),
        sa.Column("customer_phone", sa.String(length=50), nullable=True),
        sa.Column("from_date", sa.Date(), nullable=False),
        sa.Column("to_date", sa.Date(), nullable=False),
        sa.Column("between_start", sa.String(length=5), nullable=True),
        sa.Column("between_end", sa.String(length=5), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="waiting", nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=True),
        *_record_columns(),
        sa.CheckConstraint("from_date <= to_date", name=op.f("ck_waitlist_entries_range")),
        sa.CheckConstraint(
            "status IN ('waiting', 'booked', 'removed', 'expired')",
            name=op.f("ck_waitlist_entries_status"),
        ),
        _reference("waitlist_entries", "booking_id", "bookings", "SET NULL"),
        _reference("waitlist_entries", "exchange_id", "exchanges", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waitlist_entries")),
        sa.UniqueConstraint("uuid", name=op.f("uq_waitlist_entries_uuid")),
    )
    with op.batch_alter_table("waitlist_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_waitlist_entries_booking_id"), ["booking_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_waitlist_entries_exchange_id_status_created_at"),
            ["exchange_id", "status", "created_at"],
            unique=False,
        )


def downgrade() -> None:
    op.drop_table("waitlist_entries")
    op.drop_table("tickets")
    op.execute("DELETE FROM booking_events WHERE to_status = 'arrived'")
    op.execute("UPDATE bookings SET status = 'confirmed' WHERE status = 'arrived'")
    with op.batch_alter_table("booking_events", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_booking_events_to_status"), type_="check")
        batch_op.create_check_constraint("to_status", f"to_status IN {OLD_STATUSES}")
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_bookings_active_customer",
            sqlite_where=sa.text(ACTIVE),
            postgresql_where=sa.text(ACTIVE),
        )
        _active_index(batch_op, OLD_ACTIVE)
        batch_op.drop_constraint(op.f("ck_bookings_status"), type_="check")
        batch_op.create_check_constraint("status", f"status IN {OLD_STATUSES}")
        batch_op.drop_column("counter")
        batch_op.drop_column("called_at")
        batch_op.drop_column("arrived_at")
    with op.batch_alter_table("exchanges", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_exchanges_late_after"), type_="check")
        batch_op.drop_constraint(op.f("ck_exchanges_checkin_early"), type_="check")
        batch_op.drop_column("late_after_minutes")
        batch_op.drop_column("checkin_early_minutes")
