"""The ears end to end: VAD → segmenter → streaming ASR → intent, one Utterance per segment."""

import logging
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from device.audio.asr import AnswerGrammar, AnswerKind, Recognizer, Word
from device.audio.denoise import NoiseSuppressor
from device.audio.gate import EnergyGate, GateConfig, GateDecision, GateState, level_dbfs
from device.audio.sound_spans import SoundSpan, SoundSpans
from device.audio.sounds import SoundClassifier, SoundEvent, SoundInputError
from device.audio.source import SAMPLE_RATE_HZ, AudioChunk, AudioSource
from device.audio.vad import (
    SegmenterState,
    SegmentEvent,
    SileroVad,
    SpeechContinues,
    SpeechEnded,
    SpeechSegmenter,
    SpeechStarted,
)
from device.config import VadConfig
from device.dialog.answers import parse_yes_no, resolve_yes_no, syllables
from device.dialog.intents import Intent, match_intent
from device.errors import AsrError
from device.safety.evidence import SafetyDecision, decide, load_model, sound_decision

logger = logging.getLogger(__name__)

MIN_SOUND_S = 0.5
"""The sound classifier hears segments the words did not explain at least this long (fragments
of speech between words are shorter). It used to hear only segments of at most 4 recognised
syllables; measured through the ears, 11 of 18 crying clips were decoded as 5-15 nonsense
syllables and never classified (the classifier flags 14 of 15 such segments, and 0 of 31
segments of 5+ syllables of ordinary speech)."""
SPEECH_CONTEXT_S = 1.5
"""...and not within this long after an utterance of words (SPEECH_CONTEXT_SYLLABLES or more):
a short wordless segment inside fluent speech is a television or a talk, not a scream.
Measured on 27 min of TEDx talks (benchmarks/intent_recall.py): 7 of 8 checks were speech
fragments of 0.2-0.8 s the sound classifier took for moaning or panting."""
SPEECH_CONTEXT_SYLLABLES = 3
EARLY_CHECK_EVERY = 3
"""During the hangover, look at the partial transcript on silent chunks 1, 4, 7, ... (~0.1 s)."""


@dataclass(frozen=True)
class Utterance:
    """One spoken segment: when (stream seconds), what was heard, and what it meant."""

    start_s: float
    end_s: float
    text: str
    intent: Intent
    confidence: float
    grammar_text: str
    early: bool = False  # decided on the partial transcript, before the segment closed
    reported_early: bool = False  # the final transcript of a segment already reported early
    samples: np.ndarray | None = field(default=None, repr=False, compare=False)
    """The segment's 16 kHz int16 audio, for on-device voice features; it never leaves the robot."""
    answer_kind: AnswerKind | None = None
    """The answer the dialog expected (Listener.expect) while this segment was decoded..."""
    answer_text: str = ""
    """...the constrained recogniser's answer words ("" when garbage dominated)..."""
    answer_confidence: float = 0.0
    """...and their mean word confidence. Resolve with device.dialog.answers.resolve_yes_no."""
    free_words: tuple[Word, ...] = field(default=(), repr=False, compare=False)
    grammar_words: tuple[Word, ...] = field(default=(), repr=False, compare=False)
    level_dbfs: float = -120.0
    """The segment's RMS level."""
    loud: bool = False
    """The energy gate let loud voiced or clipped sound through that the VAD rejected."""
    sound: SoundEvent | None = None
    """The sound classifier's verdict on a segment without words (None: not classified)."""
    reasons: tuple[str, ...] = ()
    """Why the safety decision is what it is (English, for logs and `transcribe --json`)."""

    @property
    def duration_s(self) -> float:
        """How long the segment lasted."""
        return max(0.0, self.end_s - self.start_s)


class Listener:
    """Listens to chunks; only runs the recogniser while someone speaks."""

    def __init__(
        self,
        recognizer: Recognizer,
        vad: SileroVad,
        config: VadConfig,
        language: str = "ko",
        *,
        gate: EnergyGate | None = None,
        sounds: SoundClassifier | None = None,
        denoiser: NoiseSuppressor | None = None,
    ) -> None:
        self.recognizer = recognizer
        self.vad = vad
        self.config = config
        self.language = language
        # No gate unless given: tests drive the Listener with scripted VADs on tiny signals.
        # The robot, `transcribe` and the benchmarks build theirs with `robot_listener`.
        self.gate = gate if gate is not None else EnergyGate(GateConfig(enabled=False))
        self.sounds = sounds
        self.denoiser = denoiser
        """Takes the room's steady noise out of what the recogniser hears (None: raw audio)."""
        self._gate_was_closed = False
        self._gate: GateDecision | None = None  # the gate's view of the last chunk
        self._loud_chunks = 0
        self._words_end_s = float("-inf")  # when the last utterance of words ended
        self._spans = SoundSpans()
        self._waiting_spans: list[SoundSpan] = []  # ended while a speech segment was open
        self._recent: deque[tuple[float, float, bool]] = deque(maxlen=16)
        """Recent segments: (start_s, end_s, words); words = speech, not a sound."""
        self._raised: deque[tuple[float, float]] = deque(
            maxlen=16
        )  # segments that alerted or asked
        self._pending: deque[Utterance] = deque()  # sound utterances not yet returned
        self.sounds_classified = 0  # segments and spans the sound classifier heard
        self.segmenter = SpeechSegmenter(config)
        self._early: Utterance | None = None
        self._silent_chunks = 0
        self._idle_due = False  # an utterance was decided: tell the recogniser at the next chunk
        self._segment: list[np.ndarray] = []
        self._expect_lock = threading.Lock()
        self._expected: AnswerGrammar | None = None
        self._decoding: AnswerGrammar | None = None  # the answer grammar of the open segment
        self._installed: AnswerGrammar | None = None  # what the recognizer was last given

    def expect(self, kind: AnswerKind | None, options: Sequence[str] = ()) -> None:
        """Decode the next answer with constrained recognition too (None: stop expecting).

        Thread-safe (the dialog calls it from the agent's loop while audio runs in its own
        thread). The expectation holds until an utterance with any words ends, then lapses;
        that Utterance carries `answer_kind`, `answer_text`, `answer_confidence`.
        """
        grammar = None
        if kind is not None:
            try:
                grammar = self.recognizer.answer_grammar(kind, options)
            except AsrError as e:  # runtime options: the free transcript still answers
                logger.error("no constrained recognition for %s %s: %s", kind, list(options), e)
        with self._expect_lock:
            self._expected = grammar

    @property
    def expecting(self) -> AnswerKind | None:
        """The kind of answer currently expected, if any."""
        with self._expect_lock:
            return None if self._expected is None else self._expected.kind

    @property
    def speech_active(self) -> bool:
        """True while a speech segment is open."""
        return self.segmenter.in_speech

    def process(self, chunk: AudioChunk) -> Utterance | None:
        """Feed one chunk; returns the utterance when a segment ends on this chunk.

        A call for help is reported early: at the first silent chunks after speech, if the
        partial free transcript already matches a help phrase closely (the same rule that
        decides alone at the segment's end), instead of waiting out the VAD's hangover.
        """
        prob = self._speech_probability(chunk)
        if self._idle_due and not self.segmenter.in_speech:
            # The chunk after an utterance was decided, nothing heard: the recogniser's idle time
            # (the free recogniser renewed here, when due, not when the next utterance starts).
            self._idle_due = False
            idle = getattr(self.recognizer, "idle", None)
            if callable(idle):
                idle()
        utterance = self._handle(self.segmenter.process(prob, chunk))
        if self.denoiser is not None and self.segmenter.state is SegmenterState.IDLE:
            self.denoiser.hear_room(chunk)
        self._listen_for_sounds(chunk)
        if utterance is None and self._pending:
            utterance = self._pending.popleft()
        if utterance is not None or not self.segmenter.in_speech:
            self._silent_chunks = 0
            return utterance
        if prob >= self.config.threshold:
            self._silent_chunks = 0
            return None
        self._silent_chunks += 1
        if self._early is None and self._silent_chunks % EARLY_CHECK_EVERY == 1:
            return self._early_help()
        return None

    def _speech_probability(self, chunk: AudioChunk) -> float:
        """The gate first: a quiet room costs no VAD; loud voiced sound is speech whatever
        Silero says (a shout, a scream)."""
        gate = self._gate = self.gate.judge(chunk)
        if gate.state is GateState.CLOSED:
            self._gate_was_closed = False
            return 0.0
        if self._gate_was_closed:  # the recurrent state is stale after a closed stretch
            self._gate_was_closed = False
            reset = getattr(self.vad, "reset", None)
            if callable(reset):
                reset()
        prob = self.vad.probability(chunk)
        if gate.state is GateState.LOUD and prob < self.config.threshold:
            self._loud_chunks += 1
            return 1.0
        return prob

    def _early_help(self) -> Utterance | None:
        text = self.recognizer.partial_text()
        match = match_intent(text, language=self.language)  # no grammar: a close free match
        if match.intent is not Intent.HELP:
            return None
        if syllables(text) > load_model().call_max_syllables:
            return None  # long fluent speech (a television?): the segment's end decides
        self._early = Utterance(
            start_s=self.segmenter.start_s,
            end_s=self.segmenter.last_speech_end_s,
            text=text,
            intent=match.intent,
            confidence=match.confidence,
            grammar_text="",
            early=True,
        )
        logger.debug("early %r → help (%.2f)", text, match.confidence)
        return self._early

    def flush(self) -> list[Utterance]:
        """The stream ended: finish an utterance still being spoken and a sound still heard, and
        return everything not yet returned."""
        out = []
        utterance = self._handle(self.segmenter.flush())
        if utterance is not None:
            out.append(utterance)
        if self.sounds is not None:
            span = self._spans.flush()
            if span is not None:
                self._waiting_spans.append(span)
            self._judge_spans()
        out.extend(self._pending)
        self._pending.clear()
        return out

    def _listen_for_sounds(self, chunk: AudioChunk) -> None:
        """The sound classifier's own view of the room: spans of sound above the floor that
        the VAD cut into fragments or never opened on (moans, panting), judged once no speech
        segment is open."""
        if self.sounds is None or self._gate is None:
            return
        span = self._spans.push(chunk, self._gate)
        if span is not None:
            self._waiting_spans.append(span)
        if self._waiting_spans and not self.segmenter.in_speech:
            self._judge_spans()

    def _judge_spans(self) -> None:
        spans, self._waiting_spans = self._waiting_spans, []
        for span in spans:
            if any(span.overlaps(s, e) for s, e in self._raised):
                continue  # already asked or alerted on this sound
            if any(words and span.overlaps(s, e, SPEECH_CONTEXT_S) for s, e, words in self._recent):
                continue  # inside or right after speech: a television, a talk
            if span.start_s - self._words_end_s < SPEECH_CONTEXT_S:
                continue
            sound = self._classify_sound(span.samples)
            if sound is None or not sound.is_distress:
                continue
            decision = sound_decision(sound, SafetyDecision(Intent.NONE, 0.0, ("sound span",)))
            self._raised.append((span.start_s, span.end_s))
            self._pending.append(
                Utterance(
                    start_s=span.start_s,
                    end_s=span.end_s,
                    text="",
                    intent=decision.intent,
                    confidence=decision.confidence,
                    grammar_text="",
                    level_dbfs=level_dbfs(span.samples),
                    sound=sound,
                    reasons=decision.reasons,
                )
            )

    def listen(self, source: AudioSource) -> Iterator[Utterance]:
        """Every final utterance in a source (early reports left out), including a cut-off one."""
        for chunk in source.chunks():
            utterance = self.process(chunk)
            if utterance is not None and not utterance.early:
                yield utterance
        yield from self.flush()

    def _ended(self, event: SpeechEnded) -> Utterance:
        if self.denoiser is not None:
            tail = self.denoiser.finish()
            if tail is not None:
                self.recognizer.accept(tail)
        heard = self.recognizer.finish()
        self._idle_due = True
        samples = np.concatenate(self._segment) if self._segment else None
        match = match_intent(
            heard.text, heard.grammar_text, heard.grammar_confidence, self.language
        )
        decoded, self._decoding = self._decoding, None
        # An answer to "도와 드릴까요?" that the answer grammar heard as a no stays a no: weaker
        # evidence (the safety grammar, the model) never turns it into a call or a check.
        answered_no = None
        if decoded is not None and decoded.kind is AnswerKind.YES_NO:
            if parse_yes_no(heard.text, self.language) is False:
                answered_no = 1.0  # whole answer words in the free transcript
            elif resolve_yes_no(heard.text, heard.answer_text, self.language) is False:
                answered_no = heard.answer_confidence
        decision = decide(heard, match, event.end_s - event.start_s, answered_no=answered_no)
        sound = None
        if decision.intent is Intent.NONE and samples is not None:
            sound = self._classify(samples, event.start_s, event.end_s)
            if sound is not None:
                decision = sound_decision(sound, decision)
        if decoded is not None and (heard.text or heard.answer_text):
            with self._expect_lock:
                if self._expected is decoded:  # answered: the expectation lapses
                    self._expected = None
        utterance = Utterance(
            start_s=event.start_s,
            end_s=event.end_s,
            text=heard.text,
            intent=decision.intent,
            confidence=decision.confidence,
            grammar_text=heard.grammar_text,
            reported_early=self._early is not None,
            samples=samples,
            answer_kind=None if decoded is None else decoded.kind,
            answer_text=heard.answer_text,
            answer_confidence=heard.answer_confidence,
            free_words=heard.free_words,
            grammar_words=heard.grammar_words,
            level_dbfs=level_dbfs(samples) if samples is not None else -120.0,
            loud=self._loud_chunks > 0,
            sound=sound,
            reasons=decision.reasons,
        )
        words = syllables(heard.text) >= SPEECH_CONTEXT_SYLLABLES and not (
            sound is not None and sound.is_distress
        )
        if words:
            self._words_end_s = event.end_s
        self._recent.append((event.start_s, event.end_s, words))
        if decision.intent is not Intent.NONE:
            self._raised.append((event.start_s, event.end_s))
        self._early = None
        self._segment = []
        self._loud_chunks = 0
        logger.debug("heard %r → %s (%.2f)", heard.text, decision.intent, decision.confidence)
        return utterance

    def _classify(self, samples: np.ndarray, start_s: float, end_s: float) -> SoundEvent | None:
        """The sound classifier on a segment the words did not explain: screams, moans, crying
        (Vosk often decodes a long cry as a string of nonsense syllables)."""
        if self.sounds is None:
            return None
        if start_s - self._words_end_s < SPEECH_CONTEXT_S:
            return None  # inside fluent speech
        if end_s - start_s < MIN_SOUND_S:  # the sound itself, not the pre-roll and hangover
            return None
        return self._classify_sound(samples)

    def _classify_sound(self, samples: np.ndarray) -> SoundEvent | None:
        if self.sounds is None:
            return None
        try:
            event = self.sounds.classify(samples, SAMPLE_RATE_HZ)
            self.sounds_classified += 1
            return event
        except SoundInputError as e:
            logger.warning("sound classifier refused a segment: %s", e)
            return None

    def _clean(self, chunk: AudioChunk) -> AudioChunk:
        """What the recogniser hears: the chunk without the room's steady noise."""
        return chunk if self.denoiser is None else self.denoiser.process(chunk)

    def _handle(self, events: list[SegmentEvent]) -> Utterance | None:
        utterance = None
        for event in events:
            if isinstance(event, SpeechStarted):
                with self._expect_lock:
                    expected = self._expected
                if expected is not self._installed:
                    self.recognizer.use_answer(expected)
                    self._installed = expected
                self._decoding = expected
                self.recognizer.start()
                if self.denoiser is not None:
                    self.denoiser.start()
                self._segment = []
                for chunk in event.pre_roll:
                    self.recognizer.accept(self._clean(chunk))
                    self._segment.append(chunk.samples)
            elif isinstance(event, SpeechContinues):
                self.recognizer.accept(self._clean(event.chunk))
                self._segment.append(event.chunk.samples)
            elif isinstance(event, SpeechEnded):
                utterance = self._ended(event)
        return utterance


def robot_listener(
    recognizer: Recognizer,
    config: VadConfig,
    language: str = "ko",
    *,
    sounds: SoundClassifier | None = None,
    gate: GateConfig | None = None,
    denoise: bool = True,
) -> Listener:
    """The ears as the robot runs them: the energy gate, Silero, the recogniser, the safety
    evidence and (when given) the sound classifier. The agent, `transcribe`, `chat --mic` and
    the benchmarks build their Listener here, so they decide alike."""
    return Listener(
        recognizer,
        SileroVad(),
        config,
        language,
        gate=EnergyGate(gate or GateConfig()),
        sounds=sounds,
        denoiser=NoiseSuppressor() if denoise else None,
    )
