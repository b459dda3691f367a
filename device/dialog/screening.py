"""Spoken screening (GDS-15, SGDS-K, UCLA-3 ...): the study's instruments asked item by item.

The robot asks whether now is a good time, then each item; an answer is parsed with the
constrained yes/no or scale parser, asked once more when unclear, then skipped (None). The
total is scored on the robot with the published key (protocol.instruments) and sent as one
`screening` event. A call for help, or "그만", pauses it at the current item; it resumes
later from there. Progress survives a reboot.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from device.dialog.actions import YES_NO, Action, Emit, Expectation, Say, Speech
from device.dialog.answers import parse_scale, resolve_yes_no
from device.dialog.intents import Intent
from device.dialog.lines import Line, render
from protocol import EventType
from protocol.commands import ScreeningSpec
from protocol.events import ScreeningPayload
from protocol.instruments import Instrument, get_instrument
from protocol.instruments import score as score_answers

DEFAULT_WINDOW = timedelta(days=7)
RETRY_AFTER = timedelta(hours=2)
"""A "not now" is respected: the robot asks again this much later."""


@dataclass
class Plan:
    """One scheduled screening and how far it got."""

    id: str
    instrument: str
    due: date
    until: date
    answers: list[int | None] = field(default_factory=list)  # one per item asked so far
    not_before: datetime | None = None  # postponed or paused until then
    started: bool = False
    finished: bool = False

    @classmethod
    def from_spec(cls, spec: ScreeningSpec) -> "Plan":
        """From the wire; the instrument must be one the robot knows (ProtocolError if not)."""
        get_instrument(spec.instrument)
        return cls(
            id=spec.id,
            instrument=spec.instrument,
            due=spec.due,
            until=spec.until or spec.due + DEFAULT_WINDOW,
        )

    def to_dict(self) -> dict[str, Any]:
        """For the device's state file."""
        return {
            "id": self.id,
            "instrument": self.instrument,
            "due": self.due.isoformat(),
            "until": self.until.isoformat(),
            "answers": list(self.answers),
            "not_before": self.not_before.isoformat() if self.not_before else None,
            "started": self.started,
            "finished": self.finished,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "Plan":
        """Back from the state file."""
        not_before = raw.get("not_before")
        return cls(
            id=str(raw["id"]),
            instrument=str(raw["instrument"]),
            due=date.fromisoformat(str(raw["due"])),
            until=date.fromisoformat(str(raw["until"])),
            answers=[None if a is None else int(a) for a in raw.get("answers", [])],
            not_before=datetime.fromisoformat(not_before) if not_before else None,
            started=bool(raw.get("started", False)),
            finished=bool(raw.get("finished", False)),
        )

    def ready(self, now: datetime) -> bool:
        """Due today and not postponed."""
        today = now.date()
        return (
            not self.finished
            and self.due <= today <= self.until
            and (self.not_before is None or now >= self.not_before)
        )


def result_event(plan: Plan) -> Emit:
    """The `screening` event: answer codes in item order (None = not answered) and the score.

    A complete instrument is scored by its published key, and so is one missing no more items
    than its key prorates (PHQ-9: two); any other incomplete one carries the points of the
    items answered (a lower bound). `complete` is false whenever an item went unanswered.
    """
    instrument = get_instrument(plan.instrument)
    answers = list(plan.answers) + [None] * (len(instrument.items) - len(plan.answers))
    result = score_answers(plan.instrument, answers)
    if result.total is not None:
        total = float(result.total)
    else:
        total = float(
            sum(
                (1 - a) if instrument.yes_no and item.reverse else a
                for item, a in zip(instrument.items, answers, strict=True)
                if a is not None
            )
        )
    payload = ScreeningPayload(
        instrument=plan.instrument,
        answers=answers,
        score=total,
        complete=all(a is not None for a in answers),
    )
    return Emit(EventType.SCREENING, payload)


def _options(instrument: Instrument, language: str) -> list[str]:
    return [o.en if language == "en" else o.ko for o in instrument.options]


@dataclass
class ScreeningSession:
    """The floor while a screening runs: consent, then one item after another."""

    plan: Plan
    language: str
    answer_timeout: timedelta
    resume_after: timedelta
    name: str = "screening"
    done: bool = False
    consented: bool = False
    asked_at: datetime | None = None
    reasked: bool = False

    @property
    def instrument(self) -> Instrument:
        """The instrument being asked."""
        return get_instrument(self.plan.instrument)

    def _item_text(self) -> str:
        item = self.instrument.items[len(self.plan.answers)]
        question = item.en if self.language == "en" else item.ko
        if self.instrument.yes_no:
            return question
        options = ", ".join(f"'{o}'" for o in _options(self.instrument, self.language))
        return render(Line.SCREEN_OPTIONS, self.language, question=question, options=options)

    def begin(self, now: datetime) -> list[Action]:
        """Ask whether now is a good time (a resumed screening says so)."""
        self.asked_at = now
        if self.plan.started and self.plan.answers:
            return [Say(render(Line.SCREEN_RESUME, self.language))]
        inst = self.instrument
        preamble = inst.preamble_en if self.language == "en" else inst.preamble_ko
        return [Say(render(Line.SCREEN_ASK_CONSENT, self.language, preamble=preamble))]

    def _postpone(self, now: datetime, line: Line, after: timedelta) -> list[Action]:
        self.done = True
        self.plan.not_before = now + after
        return [Say(render(line, self.language))]

    def _ask(self, now: datetime) -> list[Action]:
        self.asked_at = now
        self.reasked = False
        if len(self.plan.answers) >= len(self.instrument.items):
            self.done = True
            self.plan.finished = True
            return [result_event(self.plan), Say(render(Line.SCREEN_THANKS, self.language))]
        return [Say(self._item_text())]

    def _parse(self, speech: Speech) -> int | None:
        inst = self.instrument
        if inst.yes_no:
            yes = resolve_yes_no(speech.text, speech.answer_text, self.language)
            if yes is None and speech.intent in (Intent.YES, Intent.NO):
                yes = speech.intent is Intent.YES
            return None if yes is None else (1 if yes else 0)
        options = _options(inst, self.language)
        index = parse_scale(speech.text, self.language, options)
        if index is None and speech.answer_text:  # the free transcript lost it
            index = parse_scale(speech.answer_text, self.language, options)
        return None if index is None else inst.options[index].code

    def _record(self, answer: int | None, now: datetime) -> list[Action]:
        self.plan.answers.append(answer)
        return self._ask(now)

    def _reask(self, now: datetime) -> list[Action]:
        self.reasked = True
        self.asked_at = now
        question = self._item_text()
        if self.instrument.yes_no:
            return [Say(render(Line.SCREEN_REASK_YES_NO, self.language, question=question))]
        options = ", ".join(f"'{o}'" for o in _options(self.instrument, self.language))
        line = Line.SCREEN_REASK_SCALE
        return [Say(render(line, self.language, options=options, question=question))]

    def hear(self, speech: Speech, now: datetime) -> list[Action]:
        """Consent, an answer, "pardon?" or "stop"."""
        if speech.intent is Intent.STOP:
            return self._postpone(now, Line.SCREEN_PAUSED, self.resume_after)
        if not self.consented:
            yes = resolve_yes_no(speech.text, speech.answer_text, self.language)
            if yes is None and speech.intent in (Intent.YES, Intent.NO, Intent.GOOD):
                yes = speech.intent is not Intent.NO
            if yes:
                self.consented = True
                self.plan.started = True
                return self._ask(now)
            return self._postpone(now, Line.SCREEN_LATER, RETRY_AFTER)
        if speech.intent is Intent.REPEAT:
            self.asked_at = now
            return [Say(self._item_text())]
        answer = self._parse(speech)
        if answer is None and not self.reasked:
            return self._reask(now)
        return self._record(answer, now)

    def tick(self, now: datetime, quiet_since: datetime) -> list[Action]:
        """Silence: no consent means later; an unanswered item is asked once more, then skipped."""
        if self.done or now - max(self.asked_at or now, quiet_since) < self.answer_timeout:
            return []
        if not self.consented:
            self.done = True
            self.plan.not_before = now + RETRY_AFTER
            return []
        if not self.reasked:
            return self._reask(now)
        return self._record(None, now)

    def expecting(self) -> Expectation | None:
        """Yes/no for consent and yes/no items; the options of a scale item."""
        if not self.consented or self.instrument.yes_no:
            return YES_NO
        return Expectation("scale", tuple(_options(self.instrument, self.language)))

    def interrupt(self, now: datetime) -> list[Action]:
        """A call for help: stop at once, resume later at this item."""
        self.done = True
        self.plan.not_before = now + self.resume_after
        return []


@dataclass
class ScreeningBook:
    """The study's scheduled screenings on this robot."""

    plans: list[Plan] = field(default_factory=list)

    def replace(self, specs: Sequence[ScreeningSpec]) -> None:
        """A new schedule; a plan already under way keeps its answers."""
        old = {p.id: p for p in self.plans}
        plans = []
        for spec in specs:
            plan = Plan.from_spec(spec)
            if spec.id in old and old[spec.id].instrument == spec.instrument:
                kept = old[spec.id]
                kept.due, kept.until = plan.due, plan.until
                plan = kept
            plans.append(plan)
        self.plans = plans

    def ready(self, now: datetime) -> Plan | None:
        """A screening to ask now: a resumed one first, then the earliest due."""
        ready = [p for p in self.plans if p.ready(now)]
        return min(ready, key=lambda p: (not p.started, p.due)) if ready else None

    def expire(self, now: datetime) -> list[Action]:
        """A screening past its window: what was answered is sent, marked incomplete."""
        actions: list[Action] = []
        for plan in self.plans:
            if not plan.finished and now.date() > plan.until:
                plan.finished = True
                if plan.answers:
                    actions.append(result_event(plan))
        return actions

    def to_dict(self) -> list[dict[str, Any]]:
        """For the device's state file."""
        return [p.to_dict() for p in self.plans]

    def load(self, raw: list[dict[str, Any]]) -> None:
        """Back from the state file."""
        self.plans = [Plan.from_dict(p) for p in raw]
