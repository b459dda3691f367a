"""Stories, quizzes, songs, chair exercises and memory games: offered, played, and remembered.

The robot offers something when the senior is idle and present (the companion decides when),
plays it line by line with pauses so "그만" can get a word in, and keeps simple counts per
item on the device (offered, declined, finished, asked again, stopped early) to offer what
the senior enjoys more often.
"""

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from device.content.library import Category, ContentItem, ContentLibrary
from device.dialog.actions import YES_NO, Action, Expectation, Say, Speech, Start
from device.dialog.intents import Intent
from device.dialog.jamo import best_substring, normalize, syllable_boundaries, to_jamo
from device.dialog.lines import Line, render

END_PAUSE = timedelta(seconds=2)
"""After the last line of a story or song, this pause before "once more?"."""
COUNTS = ("offered", "declined", "finished", "asked_again", "stopped_early")
MATCH_MIN_SIMILARITY = 0.75
"""A quiz answer or a remembered word fits the senior's words this closely (jamo level)."""
_OFFER = {
    Category.STORY: Line.OFFER_STORY,
    Category.QUIZ: Line.OFFER_QUIZ,
    Category.SONG: Line.OFFER_SONG,
    Category.EXERCISE: Line.OFFER_EXERCISE,
    Category.GAME: Line.OFFER_GAME,
}
_START = {
    Category.STORY: Line.START_STORY,
    Category.SONG: Line.START_SONG,
    Category.EXERCISE: Line.START_EXERCISE,
}
_DONT_KNOW = ("모르", "몰라", "글쎄", "don't know", "dont know", "no idea", "not sure")
WANTS = {
    Intent.WANT_STORY: Category.STORY,
    Intent.WANT_QUIZ: Category.QUIZ,
    Intent.WANT_SONG: Category.SONG,
    Intent.WANT_EXERCISE: Category.EXERCISE,
    Intent.WANT_GAME: Category.GAME,
}


def said(target: str, text: str, language: str) -> bool:
    """Whether `target` (a word or short phrase) occurs in what the senior said."""
    if language == "en":
        words = " " + " ".join(re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split()) + " "
        phrase = " ".join(re.sub(r"[^a-z0-9' ]+", " ", target.lower()).split())
        return bool(phrase) and f" {phrase} " in words
    norm_text, norm_target = normalize(text), normalize(target)
    if not norm_text or not norm_target:
        return False
    if len(norm_target) <= 2:  # short words only as whole syllables, exactly
        return norm_target in norm_text
    jamo = to_jamo(norm_target)
    found = best_substring(jamo, to_jamo(norm_text), syllable_boundaries(norm_text))
    return found is not None and found.similarity(len(jamo)) >= MATCH_MIN_SIMILARITY


@dataclass
class Preferences:
    """Counts per item ("story:heungbu") and when each was last played, kept on the robot."""

    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    last_played: dict[str, str] = field(default_factory=dict)  # key → ISO time

    def add(self, key: str, what: str, now: datetime | None = None) -> None:
        """Count one offer, decline, finish, encore or early stop."""
        assert what in COUNTS
        row = self.counts.setdefault(key, dict.fromkeys(COUNTS, 0))
        row[what] = row.get(what, 0) + 1
        if now is not None and what in ("finished", "stopped_early"):
            self.last_played[key] = now.isoformat()

    def score(self, key: str) -> float:
        """How much the senior seems to enjoy an item (0 for one never offered)."""
        row = self.counts.get(key, {})
        return (
            row.get("finished", 0)
            + 2 * row.get("asked_again", 0)
            - 2 * row.get("stopped_early", 0)
            - row.get("declined", 0)
        )

    def category_score(self, category: Category) -> float:
        """The sum over a category's items."""
        prefix = f"{category}:"
        return sum(self.score(k) for k in self.counts if k.startswith(prefix))

    def choose(
        self, library: ContentLibrary, language: str, category: Category, now: datetime
    ) -> ContentItem | None:
        """Something never played first; else the best liked, not played in the last day."""
        items = library.items(language, category)
        if not items:
            return None
        fresh = [i for i in items if i.key not in self.last_played]
        declined = {k for k, row in self.counts.items() if row.get("declined", 0) > 0}
        untried = [i for i in fresh if i.key not in declined]
        if untried:
            return untried[0]
        day_ago = (now - timedelta(days=1)).isoformat()
        rested = [i for i in items if self.last_played.get(i.key, "") < day_ago] or items
        return max(rested, key=lambda i: (self.score(i.key), -items.index(i)))

    def next_category(self, offers: dict[str, str]) -> Category:
        """The category to offer next: the best liked among those offered least recently."""
        order = list(Category)
        return min(
            order,
            key=lambda c: (offers.get(c.value, ""), -self.category_score(c), order.index(c)),
        )

    def to_dict(self) -> dict[str, Any]:
        """For the device's state file."""
        return {"counts": self.counts, "last_played": self.last_played}

    def load(self, raw: dict[str, Any]) -> None:
        """Back from the state file."""
        self.counts = {
            str(k): {str(c): int(n) for c, n in dict(v).items()}
            for k, v in dict(raw.get("counts", {})).items()
        }
        self.last_played = {str(k): str(v) for k, v in dict(raw.get("last_played", {})).items()}


@dataclass
class ContentSession:
    """The floor while a piece of content is offered or played."""

    item: ContentItem
    prefs: Preferences
    language: str
    answer_timeout: timedelta
    offer: bool = True  # ask first; False when the senior asked for it
    name: str = "content"
    done: bool = False
    phase: str = "offer"  # offer → play → (answer | recall) → again
    queue: list[tuple[str, float]] = field(default_factory=list)  # (text, pause before)
    asked_at: datetime | None = None
    tries: int = 0
    plays: int = 0

    def begin(self, now: datetime) -> list[Action]:
        """Offer it, or start at once when the senior asked."""
        self.asked_at = now
        if self.offer:
            self.prefs.add(self.item.key, "offered")
            line = _OFFER[self.item.category]
            return [Say(render(line, self.language, title=self.item.title))]
        return self._play(now)

    def _play(self, now: datetime) -> list[Action]:
        self.phase = "play"
        self.plays += 1
        item, lang = self.item, self.language
        gap = item.pause_s
        if item.category is Category.QUIZ:
            self.queue = [(render(Line.QUIZ_ASK, lang, question=item.question), 0.0)]
            self.tries = 0
        elif item.category is Category.GAME:
            words = ", ".join(item.words)
            self.queue = [
                (render(Line.GAME_INTRO, lang, title=item.title, words=words), 0.0),
                (render(Line.GAME_RECALL, lang), 5.0),
            ]
        else:
            first = render(_START[item.category], lang, title=item.title)
            self.queue = [(first, 0.0)] + [(line, gap) for line in item.lines]
            if item.category is Category.EXERCISE:
                self.queue.insert(1, (render(Line.EXERCISE_CAUTION, lang), 0.0))
        return self._next(now, now)

    def _next(self, now: datetime, quiet_since: datetime) -> list[Action]:
        """The next queued line, once the pause after the last one has passed."""
        if not self.queue:
            return []
        text, pause = self.queue[0]
        if now - quiet_since < timedelta(seconds=pause):
            return []
        self.queue.pop(0)
        self.asked_at = now
        if not self.queue:
            self._after_play()
        return [Say(text)]

    def _after_play(self) -> None:
        if self.item.category is Category.QUIZ:
            self.phase = "answer"
        elif self.item.category is Category.GAME:
            self.phase = "recall"
        else:
            self.phase = "played"

    def _finish(self, now: datetime, line: Line | None = None) -> list[Action]:
        self.prefs.add(self.item.key, "finished", now)
        self.phase = "again"
        self.asked_at = now
        again = Line.QUIZ_MORE if self.item.category is Category.QUIZ else Line.AGAIN_QUESTION
        out: list[Action] = []
        if line is not None:
            out.append(Say(render(line, self.language)))
        out.append(Say(render(again, self.language)))
        return out

    def hear(self, speech: Speech, now: datetime) -> list[Action]:
        """Yes/no to the offer, "그만" while playing, an answer, or "once more"."""
        intent = speech.intent
        if intent is Intent.STOP:
            self.done = True
            if self.phase in ("play", "answer", "recall"):
                self.prefs.add(self.item.key, "stopped_early", now)
                self.queue = []
                return [Say(render(Line.CONTENT_STOPPED, self.language))]
            if self.phase == "offer":
                self.prefs.add(self.item.key, "declined")
            return [Say(render(Line.CONTENT_DECLINED, self.language))]
        if self.phase == "offer":
            if intent in (Intent.YES, Intent.GOOD) or intent in WANTS:
                return self._play(now)
            self.done = True
            self.prefs.add(self.item.key, "declined")
            return [Say(render(Line.CONTENT_DECLINED, self.language))]
        if self.phase == "answer":
            return self._answer(speech, now)
        if self.phase == "recall":
            return self._recall(speech, now)
        if self.phase == "again":
            if intent in (Intent.YES, Intent.REPEAT, Intent.GOOD):
                if self.item.category is not Category.QUIZ:
                    self.prefs.add(self.item.key, "asked_again")
                    return self._play(now)
                self.done = True
                return [Start(Category.QUIZ)]  # another quiz: a new item
            self.done = True
            return [Say(render(Line.CONTENT_BYE, self.language))]
        if intent is Intent.REPEAT and self.phase == "played":
            self.prefs.add(self.item.key, "asked_again")
            return self._play(now)
        return []  # talk during a song or story: keep going

    def _answer(self, speech: Speech, now: datetime) -> list[Action]:
        item = self.item
        right = any(said(a, speech.text, self.language) for a in item.accept)
        answer = f"{item.question.rstrip('?.… ')} {item.answer}"
        if right:
            return [Say(render(Line.QUIZ_RIGHT, self.language, answer=answer)), *self._finish(now)]
        self.tries += 1
        unsure = (
            speech.intent in (Intent.NO, Intent.NOT_YET, Intent.STOP)
            or any(w in speech.text.lower() for w in _DONT_KNOW)
            or self.tries >= 2
        )
        if item.hint and not unsure:
            self.asked_at = now
            return [Say(render(Line.QUIZ_HINT, self.language, hint=item.hint))]
        return [Say(render(Line.QUIZ_REVEAL, self.language, answer=answer)), *self._finish(now)]

    def _recall(self, speech: Speech, now: datetime) -> list[Action]:
        words = ", ".join(self.item.words)
        count = sum(said(w, speech.text, self.language) for w in self.item.words)
        line = Line.GAME_RESULT if count else Line.GAME_NONE
        return [Say(render(line, self.language, count=count, words=words)), *self._finish(now)]

    def tick(self, now: datetime, quiet_since: datetime) -> list[Action]:
        """Play the next line after its pause; silence ends an offer, a quiz or a game."""
        if self.done:
            return []
        if self.phase == "play":
            return self._next(now, quiet_since)
        if self.phase == "played":
            return self._finish(now) if now - quiet_since >= END_PAUSE else []
        if now - max(self.asked_at or now, quiet_since) < self.answer_timeout:
            return []
        if self.phase == "answer":
            if self.tries == 0 and self.item.hint:
                self.tries = 1
                self.asked_at = now
                return [Say(render(Line.QUIZ_HINT, self.language, hint=self.item.hint))]
            answer = f"{self.item.question.rstrip('?.… ')} {self.item.answer}"
            return [Say(render(Line.QUIZ_REVEAL, self.language, answer=answer)), *self._finish(now)]
        if self.phase == "recall":
            words = ", ".join(self.item.words)
            return [Say(render(Line.GAME_NONE, self.language, words=words)), *self._finish(now)]
        self.done = True  # an unanswered offer or "once more?"
        return []

    def expecting(self) -> Expectation | None:
        """An offer and "once more?" are yes/no questions."""
        return YES_NO if self.phase in ("offer", "again") else None

    def interrupt(self, now: datetime) -> list[Action]:
        """Stop at once (a call for help, or something more important)."""
        if self.phase in ("play", "answer", "recall"):
            self.prefs.add(self.item.key, "stopped_early", now)
        self.done = True
        self.queue = []
        return []
