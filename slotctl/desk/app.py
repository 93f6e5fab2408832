"""The front-desk screen: today's roster, the queue, the counters; single keys.

Every change goes through the services the commands use, in its own unit of work
(:func:`slotctl.db.engine.transaction`), with the operator's actor: the audit
trail is the commands' own. A refusal is a notification; a database that is locked
or gone is a "reconnecting" line until a refresh reads it again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from rich.text import Text
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Footer, Header, Input, Label, Static

from slotctl.db.engine import transaction
from slotctl.errors import SlotctlError, Unavailable
from slotctl.services.desk import DeskView

T = TypeVar("T")
Cells = tuple[tuple[str, str], ...]  # a row's cells: (text, style) each

# The calendar's colours (slotctl.render.calendar): taken, free, blocked, past.
STATUS_STYLE = {
    "pending": "yellow",
    "confirmed": "green",
    "arrived": "bold cyan",
    "completed": "dim green",
    "no_show": "dim red",
    "cancelled": "dim strike",
}


def _hhmm(at: datetime | str | None) -> str:
    if at is None:
        return "—"
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    return at.strftime("%H:%M")


@dataclass(frozen=True)
class Row:
    """What a roster row is: a booking, or a slot's free seats."""

    kind: str  # "booking" or "slot"
    uuid: str
    label: str  # what a notification calls it


class Form(ModalScreen[dict[str, str] | None]):
    """A small form: labelled inputs, OK and Cancel (Escape)."""

    BINDINGS: ClassVar[list[BindingType]] = [("escape", "cancel", "Cancel")]

    def __init__(self, title: str, fields: list[tuple[str, str]]) -> None:
        super().__init__()
        self.title_text = title
        self.fields = fields

    def compose(self) -> ComposeResult:
        with Vertical(id="form"):
            yield Label(self.title_text, id="form-title")
            for key, placeholder in self.fields:
                yield Input(placeholder=placeholder, id=f"field-{key}")
            with Horizontal(id="form-buttons"):
                yield Button("OK", variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    def _values(self) -> dict[str, str]:
        return {key: self.query_one(f"#field-{key}", Input).value for key, _ in self.fields}

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        inputs = list(self.query(Input))
        index = inputs.index(event.input)
        if index + 1 < len(inputs):
            inputs[index + 1].focus()
        else:
            self.dismiss(self._values())

    @on(Button.Pressed, "#ok")
    def _ok(self) -> None:
        self.dismiss(self._values())

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class Confirm(ModalScreen[bool]):
    """A yes/no question inside the screen (y / n, Enter / Escape)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        ("y", "answer(True)", "Yes"),
        ("n", "answer(False)", "No"),
        ("escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="form"):
            yield Label(self.question, id="form-title")
            with Horizontal(id="form-buttons"):
                yield Button("Yes (y)", variant="error", id="yes")
                yield Button("No (n)", id="no")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class Choose(ModalScreen[str | None]):
    """Pick one row of a list (Enter), or Escape."""

    BINDINGS: ClassVar[list[BindingType]] = [("escape", "cancel", "Cancel")]

    def __init__(self, title: str, rows: list[tuple[str, list[str]]], columns: list[str]) -> None:
        super().__init__()
        self.title_text = title
        self.rows = rows
        self.columns = columns

    def compose(self) -> ComposeResult:
        with Vertical(id="form"):
            yield Label(self.title_text, id="form-title")
            table: DataTable[str] = DataTable(cursor_type="row", id="choices")
            table.add_columns(*self.columns)
            for key, cells in self.rows:
                table.add_row(*cells, key=key)
            yield table

    @on(DataTable.RowSelected)
    def _chosen(self, event: DataTable.RowSelected) -> None:
        self.dismiss(event.row_key.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


HELP = """\
n  call the next ticket to my counter     d  done (served)
x  no-show (asks)                          r  requeue (back in line)
c  check in the selected booking           w  add a walk-in
b  book into the selected free slot        m  move the selected booking
k  cancel the selected booking (asks)      /  find a customer
?  this help                               q  quit (also Ctrl-C)

The screen re-reads the database every few seconds; what other desks and
cron do appears by itself. Esc closes a form."""


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        ("escape", "close", "Close"),
        ("question_mark", "close", "Close"),
        ("q", "close", "Close"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="form"):
            yield Label("Keys", id="form-title")
            yield Static(HELP)

    def action_close(self) -> None:
        self.dismiss(None)


class DeskApp(App[None]):
    """One exchange's front desk, for one counter."""

    TITLE = "slotctl desk"
    CSS = """
    #main { height: 1fr; }
    #roster { width: 3fr; min-width: 40; height: 1fr; }
    #side { width: 2fr; min-width: 30; }
    #queue { height: 2fr; }
    #counters { height: 1fr; }
    DataTable { border: round $primary; }
    #status { height: 1; background: $error; color: $text; display: none; }
    #status.shown { display: block; }
    #form { width: 70; max-width: 100%; height: auto; max-height: 90%;
            border: thick $primary; background: $surface; padding: 1 2; }
    #form-title { text-style: bold; margin-bottom: 1; }
    #form-buttons { height: auto; margin-top: 1; }
    #choices { height: auto; max-height: 20; }
    Form, Confirm, Choose, HelpScreen { align: center middle; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "call_next", "Next"),
        Binding("d", "done", "Done"),
        Binding("x", "no_show", "No-show"),
        Binding("r", "requeue", "Requeue"),
        Binding("c", "checkin", "Check in"),
        Binding("w", "walkin", "Walk-in"),
        Binding("b", "book", "Book"),
        Binding("m", "move", "Move"),
        Binding("k", "cancel_booking", "Cancel"),
        Binding("slash", "find", "Find"),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
    ]

    def __init__(
        self,
        engine: Engine,
        slug: str,
        counter: str,
        actor: str,
        refresh_seconds: float = 2.0,
    ) -> None:
        super().__init__()
        self.engine = engine
        self.slug = slug
        self.counter = counter
        self.actor = actor
        self.refresh_seconds = refresh_seconds
        self.view: DeskView | None = None
        self.rows: dict[str, Row] = {}
        self.offline: str | None = None
        self.outages = 0  # how many times the database stopped answering
        self.drawn: dict[str, list[tuple[str, Cells]]] = {}  # what each table shows
        self.columns: dict[str, list[Any]] = {}  # each table's column keys

    # Layout ----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="status")
        with Horizontal(id="main"):
            roster: DataTable[Text] = DataTable(cursor_type="row", id="roster")
            roster.border_title = "Today"
            yield roster
            with Vertical(id="side"):
                queue: DataTable[Text] = DataTable(cursor_type="row", id="queue")
                queue.border_title = "Queue"
                yield queue
                counters: DataTable[Text] = DataTable(cursor_type="none", id="counters")
                counters.border_title = "Counters"
                yield counters
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"{self.slug} · counter {self.counter}"
        for name, headers in (
            ("roster", ("time", "booking", "customer", "status")),
            ("queue", ("ticket", "customer", "due", "waited")),
            ("counters", ("counter", "ticket", "customer")),
        ):
            self.columns[name] = self.query_one(f"#{name}", DataTable).add_columns(*headers)
        self.reload()
        self.set_interval(self.refresh_seconds, self.reload)

    # Reading ---------------------------------------------------------------------------

    def _unit(self, work: Callable[[Session], T], *, readonly: bool = False) -> T:
        with transaction(self.engine, readonly=readonly) as session:
            return work(session)

    def reload(self) -> None:
        """Re-read the day; a database that does not answer shows a line and the last
        view stays on the screen until it answers again."""
        from slotctl.services.desk import desk_view

        try:
            view = self._unit(lambda s: desk_view(s, self.slug), readonly=True)
        except Unavailable as exc:
            self._set_offline(f"reconnecting… ({exc})")
            return
        self._set_offline(None)
        self.view = view
        self._draw(view)

    def _set_offline(self, message: str | None) -> None:
        if message is not None and self.offline is None:
            self.outages += 1
        self.offline = message
        status = self.query_one("#status", Static)
        status.update(message or "")
        status.set_class(message is not None, "shown")

    def _draw(self, view: DeskView) -> None:
        self.title = f"{view.name} — {view.day.isoformat()}"
        rows: list[tuple[str, Cells]] = []
        self.rows = {}
        current_row = None
        for slot in view.roster:
            starts, ends = slot["starts_at"], slot["ends_at"]
            past = ends <= view.now
            current = starts <= view.now < ends
            style = "dim" if past else ("bold" if current else "")
            time_cell = (f"{_hhmm(starts)}–{_hhmm(ends)}", style + (" reverse" if current else ""))
            for booking in slot["bookings"]:
                key = f"booking:{booking['uuid']}"
                self.rows[key] = Row("booking", booking["uuid"], booking["reference"])
                status = booking["status"]
                rows.append(
                    (
                        key,
                        (
                            time_cell,
                            (booking["reference"], style),
                            (booking["customer_name"], style),
                            (status, "dim" if past else STATUS_STYLE.get(status, "")),
                        ),
                    )
                )
                if current and current_row is None:
                    current_row = key
            free = slot["available_seats"]
            if free > 0 and slot["status"] == "available":
                key = f"slot:{slot['uuid']}"
                self.rows[key] = Row("slot", slot["uuid"], f"{_hhmm(starts)}")
                rows.append((key, (time_cell, ("—", "dim"), (f"{free} free", "green"), ("", ""))))
            elif not slot["bookings"]:
                cells = (time_cell, ("—", "dim"), (slot["status"], "dim"), ("", ""))
                rows.append((f"empty:{slot['uuid']}", cells))
        self._sync("roster", rows, current_row)
        queue: list[tuple[str, Cells]] = [
            (
                t.uuid,
                (
                    (t.number, "bold"),
                    (t.customer_name, ""),
                    (_hhmm(t.due_at), ""),
                    (f"{t.waited_minutes or 0}m", ""),
                ),
            )
            for t in view.queue
        ]
        self._sync("queue", queue, None)
        counters: list[tuple[str, Cells]] = [
            (
                f"counter:{t.uuid}",
                (
                    (t.counter or "", "bold" if t.counter == self.counter else ""),
                    (t.number, ""),
                    (t.customer_name, ""),
                ),
            )
            for t in view.counters
        ]
        self._sync("counters", counters, None)

    def _sync(self, name: str, rows: list[tuple[str, Cells]], focus: str | None) -> None:
        """Bring a table to ``rows``: when they are its rows in the same order less some
        removed and plus some appended, only those rows and the cells that changed are
        redrawn (a refresh of a busy day costs a few cells, not five hundred rows);
        otherwise it is rebuilt, keeping the cursor on its row (or moving it to
        ``focus``)."""
        table = self.query_one(f"#{name}", DataTable)
        before = self.drawn.get(name)
        columns = self.columns[name]
        keys = [k for k, _ in rows]
        if before is not None:
            kept = set(keys)
            gone = [k for k, _ in before if k not in kept]
            remaining = [(k, cells) for k, cells in before if k in kept]
            if [k for k, _ in remaining] == keys[: len(remaining)]:  # removed and appended
                for key in gone:
                    table.remove_row(key)
                for (key, cells), (_, old) in zip(rows, remaining, strict=False):
                    for column, cell, was in zip(columns, cells, old, strict=True):
                        if cell != was:
                            table.update_cell(key, column, Text(cell[0], style=cell[1]))
                for key, cells in rows[len(remaining) :]:
                    table.add_row(*(Text(text, style=style) for text, style in cells), key=key)
                self.drawn[name] = rows
                return
        selected = self._selected_key(table)
        table.clear()
        for key, cells in rows:
            table.add_row(*(Text(text, style=style) for text, style in cells), key=key)
        self._restore(table, selected or focus)
        self.drawn[name] = rows

    @staticmethod
    def _selected_key(table: DataTable[Any]) -> str | None:
        if table.row_count == 0:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except Exception:  # the cursor is outside the rows
            return None
        return str(key) if key is not None else None

    @staticmethod
    def _restore(table: DataTable[Any], key: str | None) -> None:
        if key is None:
            return
        try:
            table.move_cursor(row=table.get_row_index(key))
        except Exception:  # the row went away meanwhile
            return

    def selected_row(self) -> Row | None:
        key = self._selected_key(self.query_one("#roster", DataTable))
        return None if key is None else self.rows.get(key)

    # Changing --------------------------------------------------------------------------

    def change(self, work: Callable[[Session], T], done: Callable[[T], str]) -> T | None:
        """Run one change in its own unit of work; tell what happened, then re-read."""
        try:
            result = self._unit(work)
        except Unavailable as exc:
            self._set_offline(f"reconnecting… ({exc})")
            self.notify(f"not done: {exc}", severity="error")
            return None
        except SlotctlError as exc:
            self.notify(str(exc), severity="warning")
            return None
        self.notify(done(result))
        self.reload()
        return result

    def _my_ticket(self) -> str | None:
        if self.view is not None:
            mine = [t for t in self.view.counters if t.counter == self.counter]
            if mine:
                return mine[-1].uuid
        self.notify(f"nobody is called to counter {self.counter}: press n", severity="warning")
        return None

    def action_call_next(self) -> None:
        from slotctl.services.queue import call_next

        self.change(
            lambda s: call_next(s, self.slug, self.counter, self.actor),
            lambda t: f"{t.number} {t.customer_name} → counter {self.counter}",
        )

    def _act(self, action: str, ticket: str, verb: str) -> None:
        from slotctl.services.queue import act

        self.change(
            lambda s: act(s, action, ticket, self.actor),
            lambda t: f"{t.number} {t.customer_name}: {verb}",
        )

    def action_done(self) -> None:
        ticket = self._my_ticket()
        if ticket is not None:
            self._act("done", ticket, "served")

    def action_requeue(self) -> None:
        ticket = self._my_ticket()
        if ticket is not None:
            self._act("requeue", ticket, "back in the queue")

    def action_no_show(self) -> None:
        ticket = self._my_ticket()
        if ticket is None:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._act("no-show", ticket, "no-show")

        self.push_screen(Confirm("Mark the called customer a no-show?"), answered)

    def action_checkin(self) -> None:
        from slotctl.services.queue import checkin

        row = self.selected_row()
        if row is None or row.kind != "booking":
            self.notify("select a booking to check in", severity="warning")
            return
        self.change(
            lambda s: checkin(s, [row.uuid], self.actor),
            lambda tickets: f"{row.label} checked in: ticket {tickets[0].number}",
        )

    def action_walkin(self) -> None:
        from slotctl.services.queue import walkin

        def submitted(values: dict[str, str] | None) -> None:
            if values is None:
                return
            self.change(
                lambda s: walkin(
                    s,
                    self.slug,
                    values["name"],
                    phone=values["phone"] or None,
                    email=values["email"] or None,
                ),
                lambda t: f"walk-in {t.customer_name}: ticket {t.number}",
            )

        fields = [("name", "Name"), ("phone", "Phone (optional)"), ("email", "Email (optional)")]
        self.push_screen(Form("Walk-in", fields), submitted)

    def action_book(self) -> None:
        from slotctl.services.bookings import NewBooking, create_booking

        row = self.selected_row()
        if row is None or row.kind != "slot":
            self.notify("select a free slot (a row with free seats) to book", severity="warning")
            return

        def submitted(values: dict[str, str] | None) -> None:
            if values is None:
                return
            new = NewBooking(values["name"], values["email"], values["phone"] or None)
            self.change(
                lambda s: create_booking(s, row.uuid, new, self.actor),
                lambda b: f"booked {b.reference} for {b.customer_name} at {row.label}",
            )

        fields = [("name", "Name"), ("email", "Email"), ("phone", "Phone (optional)")]
        self.push_screen(Form(f"Book the {row.label} slot", fields), submitted)

    def action_move(self) -> None:
        from slotctl.services.bookings import move_booking
        from slotctl.services.slots import available_slots

        row = self.selected_row()
        if row is None or row.kind != "booking":
            self.notify("select a booking to move", severity="warning")
            return
        try:
            page = self._unit(
                lambda s: available_slots(s, self.slug, from_date=None, to_date=None, limit=20),
                readonly=True,
            )
        except SlotctlError as exc:
            self.notify(str(exc), severity="warning")
            return
        choices = [
            (s.uuid or "", [s.date.isoformat(), s.start, f"{s.available_seats} free"])
            for s in page.records
        ]
        if not choices:
            self.notify("no free slot to move to", severity="warning")
            return

        def chosen(slot: str | None) -> None:
            if slot is not None:
                self.change(
                    lambda s: move_booking(s, row.uuid, slot, self.actor),
                    lambda b: f"{b.reference} moved to {_hhmm(b.starts_at)} {b.starts_at:%Y-%m-%d}",
                )

        self.push_screen(
            Choose(f"Move {row.label} to", choices, ["date", "start", "seats"]), chosen
        )

    def action_cancel_booking(self) -> None:
        from slotctl.services.bookings import transition

        row = self.selected_row()
        if row is None or row.kind != "booking":
            self.notify("select a booking to cancel", severity="warning")
            return

        def submitted(values: dict[str, str] | None) -> None:
            if values is None:
                return

            def answered(yes: bool | None) -> None:
                if yes:
                    self.change(
                        lambda s: transition(
                            s, "cancel", [row.uuid], self.actor, reason=values["reason"] or None
                        ),
                        lambda _: f"{row.label} cancelled",
                    )

            self.push_screen(Confirm(f"Cancel {row.label}?"), answered)

        self.push_screen(Form(f"Cancel {row.label}", [("reason", "Reason")]), submitted)

    def action_find(self) -> None:
        from slotctl.services.desk import find_customers

        def submitted(values: dict[str, str] | None) -> None:
            if not values or not values["text"].strip():
                return
            try:
                found = self._unit(
                    lambda s: find_customers(s, self.slug, values["text"]), readonly=True
                )
            except SlotctlError as exc:
                self.notify(str(exc), severity="warning")
                return
            if not found:
                self.notify(f"nobody matches {values['text']!r}", severity="warning")
                return
            rows = [
                (
                    b.uuid,
                    [b.reference, b.customer_name, f"{b.starts_at:%Y-%m-%d %H:%M}", b.status],
                )
                for b in found
            ]

            def chosen(uuid: str | None) -> None:
                if uuid is None:
                    return
                roster = self.query_one("#roster", DataTable)
                key = f"booking:{uuid}"
                if key in self.rows:
                    roster.move_cursor(row=roster.get_row_index(key))
                    roster.focus()
                else:
                    booking = next(b for b in found if b.uuid == uuid)
                    self.notify(f"{booking.reference} is on {booking.starts_at:%Y-%m-%d}")

            self.push_screen(
                Choose("Found", rows, ["booking", "customer", "slot", "status"]), chosen
            )

        self.push_screen(Form("Find a customer", [("text", "Name, email or BK-…")]), submitted)

    def action_help(self) -> None:
        self.push_screen(HelpScreen())
