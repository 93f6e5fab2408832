"""slotctl: administration of appointment slots and bookings for walk-in exchanges."""

__version__ = "0.1.0"
