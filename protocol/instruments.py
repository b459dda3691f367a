"""Screening instruments shared by the robot (it asks the items aloud) and the cloud (it scores).

Each instrument carries its items in Korean and English, its response options, and the
scoring key exactly as published. `answers` on the wire (`ScreeningPayload.answers`) are the
*response codes* below, one per item in order, `None` for an item not answered:

- GDS-15 / SGDS-K: 1 = "yes", 0 = "no". Items 1, 5, 7, 11 and 13 are reverse-keyed: "no"
  scores a point there; "yes" scores a point everywhere else (Sheikh & Yesavage 1986).
  Total 0–15. SGDS-K is the Korean translation of the same 15 items and key (Bae & Cho 2004,
  J Psychosom Res 57:297-305); its published optimal cut-off is 8, where GDS-15 uses 5.
- UCLA-3 (Hughes et al. 2004, Res Aging 26:655-672): 1 = hardly ever, 2 = some of the
  time, 3 = often; total 3–9; 6 or more is commonly read as lonely (Steptoe et al. 2013).
- PHQ-9 (Kroenke, Spitzer & Williams 2001): 0 = not at all ... 3 = nearly every day; total
  0–27; severity bands 0–4 minimal, 5–9 mild, 10–14 moderate, 15–19 moderately severe,
  20–27 severe; 10 or more screens positive. Item 9 (thoughts of self-harm) above 0 is
  flagged whatever the total.

Missing items: GDS-15, SGDS-K and UCLA-3 are scored only when every item is answered (their
authors give no proration rule). PHQ-9 is prorated when at most two items are missing: the
mean of the answered items times nine, rounded half up (Arrieta et al. 2017, J Clin Psychol
73:1076-1090, the rule PHQ scoring libraries follow); more missing items give no score.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from protocol.errors import ProtocolError


class InstrumentId(StrEnum):
    """The instruments a study can schedule (the `instrument` label of a screening event)."""

    GDS15 = "gds15"
    SGDS_K = "sgds_k"
    UCLA3 = "ucla3"
    PHQ9 = "phq9"


@dataclass(frozen=True, slots=True)
class ResponseOption:
    """One answer a senior can give, with the code sent on the wire."""

    code: int
    ko: str
    en: str


@dataclass(frozen=True, slots=True)
class Item:
    """One question, 1-based; `reverse` marks a reverse-keyed yes/no item."""

    number: int
    ko: str
    en: str
    reverse: bool = False


@dataclass(frozen=True, slots=True)
class Band:
    """A published score range and its meaning (inclusive bounds)."""

    low: int
    high: int
    code: str
    ko: str
    en: str


@dataclass(frozen=True, slots=True)
class Instrument:
    """An instrument's items, options and scoring key."""

    id: InstrumentId
    name: str
    citation: str
    preamble_ko: str
    preamble_en: str
    items: tuple[Item, ...]
    options: tuple[ResponseOption, ...]
    min_score: int
    max_score: int
    bands: tuple[Band, ...]
    positive_at: int  # a total at or above this screens positive
    max_missing_prorated: int = 0  # 0: scored only when complete

    @property
    def codes(self) -> frozenset[int]:
        """The valid response codes."""
        return frozenset(o.code for o in self.options)

    @property
    def yes_no(self) -> bool:
        """Items answered yes (1) / no (0) and keyed per item."""
        return self.codes == frozenset({0, 1})

    def band(self, total: int) -> Band:
        """The band a total falls in."""
        for band in self.bands:
            if band.low <= total <= band.high:
                return band
        raise ProtocolError(
            f"{self.id}: score {total} is outside {self.min_score}–{self.max_score}"
        )


@dataclass(frozen=True, slots=True)
class Score:
    """An instrument's result: `total` is None when too few items were answered to score."""

    instrument: InstrumentId
    total: int | None
    answered: int
    n_items: int
    complete: bool
    prorated: bool
    band: str | None
    positive: bool | None
    flags: tuple[str, ...] = ()


_YES_NO = (ResponseOption(1, "예", "yes"), ResponseOption(0, "아니오", "no"))

# GDS-15 / SGDS-K: the 15 items of the short form; reverse-keyed items 1, 5, 7, 11, 13.
_GDS_ITEMS = (
    Item(
        1, "현재의 생활에 대체로 만족하십니까?", "Are you basically satisfied with your life?", True
    ),
    Item(
        2,
        "요즘 활동이나 관심거리가 많이 줄었습니까?",
        "Have you dropped many of your activities and interests?",
    ),
    Item(3, "사는 것이 공허하다고 느끼십니까?", "Do you feel that your life is empty?"),
    Item(4, "지루하다고 느낄 때가 자주 있습니까?", "Do you often get bored?"),
    Item(
        5, "대부분의 시간에 기분이 좋으십니까?", "Are you in good spirits most of the time?", True
    ),
    Item(
        6,
        "나에게 무슨 나쁜 일이 생길 것 같아 두렵습니까?",
        "Are you afraid that something bad is going to happen to you?",
    ),
    Item(7, "대부분의 시간에 행복하다고 느끼십니까?", "Do you feel happy most of the time?", True),
    Item(8, "자주 무력감을 느끼십니까?", "Do you often feel helpless?"),
    Item(
        9,
        "밖에 나가 새로운 일을 하기보다 집에 있는 것이 더 좋으십니까?",
        "Do you prefer to stay at home, rather than going out and doing new things?",
    ),
    Item(
        10,
        "다른 사람들보다 기억력에 문제가 더 많다고 느끼십니까?",
        "Do you feel you have more problems with memory than most?",
    ),
    Item(
        11,
        "지금 살아 있다는 것이 멋지다고 생각하십니까?",
        "Do you think it is wonderful to be alive now?",
        True,
    ),
    Item(
        12,
        "지금의 자신이 꽤 쓸모없는 사람이라고 느끼십니까?",
        "Do you feel pretty worthless the way you are now?",
    ),
    Item(13, "기운이 넘친다고 느끼십니까?", "Do you feel full of energy?", True),
    Item(
        14,
        "지금 자신의 처지가 희망이 없다고 느끼십니까?",
        "Do you feel that your situation is hopeless?",
    ),
    Item(
        15,
        "다른 사람들 대부분이 자신보다 형편이 낫다고 생각하십니까?",
        "Do you think that most people are better off than you are?",
    ),
)
_GDS_PREAMBLE_KO = "지난 일주일 동안 어떻게 지내셨는지 여쭤볼게요. 예, 아니오로 대답해 주세요."
_GDS_PREAMBLE_EN = "I'll ask how you have felt over the past week. Please answer yes or no."

GDS15 = Instrument(
    id=InstrumentId.GDS15,
    name="Geriatric Depression Scale, short form (GDS-15)",
    citation="Sheikh JI, Yesavage JA. Clin Gerontol 1986;5:165-173",
    preamble_ko=_GDS_PREAMBLE_KO,
    preamble_en=_GDS_PREAMBLE_EN,
    items=_GDS_ITEMS,
    options=_YES_NO,
    min_score=0,
    max_score=15,
    bands=(
        Band(0, 4, "normal", "정상", "normal"),
        Band(5, 8, "mild", "경도 우울", "mild depression"),
        Band(9, 11, "moderate", "중등도 우울", "moderate depression"),
        Band(12, 15, "severe", "중증 우울", "severe depression"),
    ),
    positive_at=5,
)

SGDS_K = Instrument(
    id=InstrumentId.SGDS_K,
    name="Korean short form Geriatric Depression Scale (SGDS-K)",
    citation="Bae JN, Cho MJ. J Psychosom Res 2004;57:297-305",
    preamble_ko=_GDS_PREAMBLE_KO,
    preamble_en=_GDS_PREAMBLE_EN,
    items=_GDS_ITEMS,
    options=_YES_NO,
    min_score=0,
    max_score=15,
    bands=(
        Band(0, 7, "below_cutoff", "절단점 미만", "below the cut-off"),
        Band(8, 15, "depression_likely", "우울 의심", "depression likely"),
    ),
    positive_at=8,
)

UCLA3 = Instrument(
    id=InstrumentId.UCLA3,
    name="UCLA Loneliness Scale, 3 items",
    citation="Hughes ME, Waite LJ, Hawkley LC, Cacioppo JT. Res Aging 2004;26:655-672",
    preamble_ko="요즘 얼마나 자주 이렇게 느끼시는지 여쭤볼게요.",
    preamble_en="I'll ask how often you feel the following these days.",
    items=(
        Item(
            1,
            "함께 지낼 사람이 없다고 얼마나 자주 느끼십니까?",
            "How often do you feel that you lack companionship?",
        ),
        Item(2, "소외되었다고 얼마나 자주 느끼십니까?", "How often do you feel left out?"),
        Item(
            3,
            "다른 사람들로부터 고립되었다고 얼마나 자주 느끼십니까?",
            "How often do you feel isolated from others?",
        ),
    ),
    options=(
        ResponseOption(1, "거의 없다", "hardly ever"),
        ResponseOption(2, "가끔 있다", "some of the time"),
        ResponseOption(3, "자주 있다", "often"),
    ),
    min_score=3,
    max_score=9,
    bands=(
        Band(3, 5, "not_lonely", "외롭지 않음", "not lonely"),
        Band(6, 9, "lonely", "외로움", "lonely"),
    ),
    positive_at=6,
)

PHQ9 = Instrument(
    id=InstrumentId.PHQ9,
    name="Patient Health Questionnaire-9 (PHQ-9)",
    citation="Kroenke K, Spitzer RL, Williams JB. J Gen Intern Med 2001;16:606-613",
    preamble_ko="지난 2주 동안 다음과 같은 문제로 얼마나 자주 불편을 겪으셨는지 여쭤볼게요.",
    preamble_en=(
        "Over the last two weeks, how often have you been bothered by the following problems?"
    ),
    items=(
        Item(
            1,
            "일을 하는 것에 대한 흥미나 재미가 거의 없음",
            "Little interest or pleasure in doing things",
        ),
        Item(2, "가라앉은 느낌, 우울감 혹은 절망감", "Feeling down, depressed, or hopeless"),
        Item(
            3,
            "잠들기 어렵거나 자꾸 깨어남, 혹은 너무 많이 잠",
            "Trouble falling or staying asleep, or sleeping too much",
        ),
        Item(4, "피곤하거나 기운이 거의 없음", "Feeling tired or having little energy"),
        Item(5, "식욕이 줄었거나 너무 많이 먹음", "Poor appetite or overeating"),
        Item(
            6,
            "내 자신이 나쁜 사람이라는 느낌, 실패자라는 느낌, 혹은 나나 가족을 실망시켰다는 느낌",
            "Feeling bad about yourself, or that you are a failure, or have let yourself"
            " or your family down",
        ),
        Item(
            7,
            "신문을 읽거나 텔레비전을 볼 때 집중하기 어려움",
            "Trouble concentrating on things, such as reading the newspaper or watching television",
        ),
        Item(
            8,
            "다른 사람들이 알아챌 정도로 말이나 행동이 느려짐, 혹은 반대로 너무 안절부절못함",
            "Moving or speaking so slowly that other people could have noticed, or the opposite,"
            " being so fidgety or restless that you have been moving around a lot more than usual",
        ),
        Item(
            9,
            "차라리 죽는 것이 낫겠다는 생각, 혹은 어떻게든 자해하려는 생각",
            "Thoughts that you would be better off dead, or of hurting yourself in some way",
        ),
    ),
    options=(
        ResponseOption(0, "전혀 없음", "not at all"),
        ResponseOption(1, "며칠 동안", "several days"),
        ResponseOption(2, "일주일 이상", "more than half the days"),
        ResponseOption(3, "거의 매일", "nearly every day"),
    ),
    min_score=0,
    max_score=27,
    bands=(
        Band(0, 4, "minimal", "우울 아님", "minimal"),
        Band(5, 9, "mild", "가벼운 우울", "mild"),
        Band(10, 14, "moderate", "중간 정도 우울", "moderate"),
        Band(15, 19, "moderately_severe", "약간 심한 우울", "moderately severe"),
        Band(20, 27, "severe", "심한 우울", "severe"),
    ),
    positive_at=10,
    max_missing_prorated=2,
)

INSTRUMENTS: dict[InstrumentId, Instrument] = {i.id: i for i in (GDS15, SGDS_K, UCLA3, PHQ9)}


def get_instrument(instrument: str) -> Instrument:
    """The instrument with this id, or ProtocolError naming the known ones."""
    try:
        return INSTRUMENTS[InstrumentId(instrument)]
    except ValueError:
        known = ", ".join(sorted(i.value for i in InstrumentId))
        raise ProtocolError(f"unknown instrument {instrument!r}; known: {known}") from None


def _round_half_up(x: float) -> int:
    return math.floor(x + 0.5)


def score(instrument: str, answers: Sequence[int | None]) -> Score:
    """Score answers by the published key; ProtocolError for a wrong count or code."""
    inst = get_instrument(instrument)
    n = len(inst.items)
    if len(answers) != n:
        raise ProtocolError(f"{inst.id} has {n} items; got {len(answers)} answers")
    codes = inst.codes
    for item, answer in zip(inst.items, answers, strict=True):
        if answer is not None and (isinstance(answer, bool) or answer not in codes):
            allowed = ", ".join(str(c) for c in sorted(codes))
            raise ProtocolError(
                f"{inst.id} item {item.number}: answer {answer!r} is not one of {allowed}"
            )
    item_scores = [
        None if a is None else ((1 - a) if (inst.yes_no and item.reverse) else a)
        for item, a in zip(inst.items, answers, strict=True)
    ]
    given = [s for s in item_scores if s is not None]
    missing = n - len(given)
    flags: tuple[str, ...] = ()
    if inst.id is InstrumentId.PHQ9 and answers[8] is not None and answers[8] > 0:
        flags = ("self_harm_thoughts",)
    if missing == 0:
        total: int | None = sum(given)
    elif 0 < missing <= inst.max_missing_prorated:
        total = _round_half_up(sum(given) / len(given) * n)
    else:
        total = None
    if total is None:
        return Score(inst.id, None, len(given), n, False, False, None, None, flags)
    return Score(
        inst.id,
        total,
        len(given),
        n,
        missing == 0,
        missing > 0,
        inst.band(total).code,
        total >= inst.positive_at,
        flags,
    )
