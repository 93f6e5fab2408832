"""Transfer: CSV, JSON, XLSX and ICS export and CSV and XLSX import of every record type.

Export (:mod:`.export`, :mod:`.ics`, :mod:`.xlsx`) streams records rendered by the
database. A workbook is read into the same CSV-cell text (:mod:`.xlsx`), so every
rule below holds for it unchanged.
Import is split by record type (:mod:`.exchanges`, :mod:`.hours`, :mod:`.slots`,
:mod:`.bookings`, and the front desk's tickets and waitlist entries in
:mod:`.front_desk`) over one shared cell layer (:mod:`.cells`) that uses the
validators of :mod:`slotctl.domain`, and one staging layer (:mod:`.staging`).
Imports obey the booking lifecycle and change seats and statuses only through
:mod:`slotctl.services.seats`.

Every imported file is validated whole, then written in one transaction.

Every row is checked before anything is written; all bad rows are reported
with their line numbers (exit 5) and nothing is written. Otherwise records
whose ``uuid`` exists are updated (only when something differs, so importing
the same file twice changes nothing), the rest are inserted, in the caller's
one transaction.

Slots and bookings can number millions, so they are never held in Python:
each row is parsed and checked on its own, then *staged* into a temporary
table (``executemany`` on SQLite, ``COPY`` on PostgreSQL), and the checks that
need the whole picture — duplicates, unknown slots, overlaps, capacity — and
the writes are set-based SQL over that table. Memory stays flat whatever the
file's size. (Booking import writes in a savepoint and runs its whole-file
checks only when a constraint refuses the write: see :func:`import_bookings`.)
Exchanges, hours, closures, tickets and waitlist entries are small by nature and
go through the ORM with the same validation as the commands that create them.

Derived columns (a booking's exchange and times, a slot's counters, seats and
status) are optional and ignored: they are recomputed from the records they
derive from. Booking import recomputes the counters of every slot it touches
and refuses rows that would overbook a slot, like bad rows.

Every import lists what it changes, field by field (:class:`.cells.Changes`), and
refuses what a spreadsheet did to a file it opened and saved (:mod:`.damage`:
leading zeros lost, UTF-8 read as Latin-1) unless the operator accepts it.
"""
