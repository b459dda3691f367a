"""The lexicon-only baseline: a hand-written word list per class and language.

It is what a careful engineer would build without a model: count how many cue words of
each class occur (Korean cues match inside the text with the spaces removed, because
Korean words take endings and particles; English cues match whole words or phrases) and
pick the class with most hits, neutral when nothing matches. Valence is the class's typical
valence. The lists were written from general knowledge of how people say these things, not
extracted from any data set.
"""

from dataclasses import dataclass

from device.perception.emotion_text import LABELS, normalize


def _cues(text: str) -> tuple[str, ...]:
    return tuple(text.split("|"))


# Korean cues are stems: "아파" matches 아파요, 아파서, 아파 죽겠어.
KO: dict[str, tuple[str, ...]] = {
    "happy": _cues(
        "좋다|좋네|좋아|좋더라|좋구먼|기쁘|기뻐|행복|즐거|신나|신난|반가|고마|감사|"
        "재미있|재밌|맛있|웃|설레|기특|다행|뿌듯|상쾌|개운|흐뭇|자랑스|이뻐|예뻐|최고"
    ),
    "neutral": (),
    "sad_lonely": _cues(
        "외로|외롭|쓸쓸|적적|허전|슬프|슬퍼|우울|보고싶|보고 싶|그립|그리워|눈물|"
        "혼자|서운|서글|허무|헛헛|울적|낙이없|아무도|죽어야|먹먹|적막|섭섭|처져"
    ),
    "anxious": _cues(
        "걱정|불안|무서|무섭|겁나|겁이|초조|떨려|조마조마|어떡|어쩌|어떻게하|큰일|"
        "두근|마음이안놓|애가타|졸여|염려|안절부절|철렁|벌렁|사기|겁난"
    ),
    "angry": _cues(
        "짜증|화나|화가|열받|열불|성질|괘씸|어이없|어이가없|답답|시끄러|시끄럽|속터|"
        "분하|분해|억울|기가막|지긋지긋|무시|못참|귀찮|지겹|미치겠|뒤집|불친절"
    ),
    "pain": _cues(
        "아파|아프|아야|통증|쑤시|쑤셔|결려|결리|저려|저리|욱신|지끈|시큰|삐었|삐끗|"
        "부었|붓고|어지러|메스꺼|쓰려|쓰리|뻐근|뻣뻣|삭신|몸살|허리야|다리야|"
        "무릎이야|토할|두통|멍들|따끔|쥐가|어깨야|찌릿"
    ),
}

# English cues are lower-case words or phrases, matched on word boundaries.
EN: dict[str, tuple[str, ...]] = {
    "happy": _cues(
        "happy|glad|great|wonderful|lovely|love|enjoyed|enjoy|nice|fun|proud|excited|"
        "good news|thank you|thanks|smile|laugh|delicious|relief|beautiful|"
        "can't wait|cant wait|made my day|cheered"
    ),
    "neutral": (),
    "sad_lonely": _cues(
        "lonely|lonesome|alone|sad|miss|empty|depressed|blue|cry|crying|nobody|"
        "no one|passed|died|pointless|burden|feeling down|feel down|so down|forgot about me|"
        "hollow|heartbroken|gloomy|so low|quiet in here"
    ),
    "anxious": _cues(
        "worried|worry|worries|anxious|nervous|scared|afraid|frightened|uneasy|"
        "what if|what do i do|fretting|jittery|restless|bad feeling|scam|"
        "panicky|dread|on edge|nervous wreck|frightens"
    ),
    "angry": _cues(
        "angry|mad|furious|annoyed|annoying|irritates|fed up|sick and tired|rude|"
        "ridiculous|outrageous|stupid|shut up|livid|blood boil|unbelievable|"
        "disrespectful|steaming|ticks me off|had it|"
        "fuming|aggravating|frustrated|frustrating|irritated|irritating|infuriating|sick of"
    ),
    "pain": _cues(
        "hurt|hurts|pain|painful|ache|aches|aching|sore|headache|cramp|cramps|"
        "cramping|stiff|swollen|dizzy|throbbing|pounding|sprained|killing me|fever|"
        "ouch|achy|shooting pain|tummy|bruise"
    ),
}

CLASS_VALENCE = {
    "happy": 0.65,
    "neutral": 0.0,
    "sad_lonely": -0.6,
    "anxious": -0.5,
    "angry": -0.6,
    "pain": -0.6,
}
"""Typical valence per class (the middle of the range the data set's authors used)."""

# On a tie, the class that matters more to a caregiver wins.
_TIE_ORDER = ("pain", "anxious", "sad_lonely", "angry", "happy", "neutral")


@dataclass(frozen=True)
class LexiconPrediction:
    """The baseline's answer for one utterance."""

    label: str
    hits: dict[str, int]
    valence: float


def hits(text: str, lang: str) -> dict[str, int]:
    """How many cue words of each class occur in the text."""
    norm = normalize(text)
    out = dict.fromkeys(LABELS, 0)
    if lang == "ko":
        joined = norm.replace(" ", "")
        for label, cues in KO.items():
            out[label] = sum(1 for cue in cues if cue.replace(" ", "") in joined)
    else:
        padded = f" {norm} "
        for label, cues in EN.items():
            out[label] = sum(1 for cue in cues if f" {normalize(cue)} " in padded)
    return out


def predict(text: str, lang: str) -> LexiconPrediction:
    """The class with most cue hits (neutral when none), and its typical valence."""
    counts = hits(text, lang)
    best = max(counts.values())
    label = "neutral" if best == 0 else next(c for c in _TIE_ORDER if counts[c] == best)
    return LexiconPrediction(label=label, hits=counts, valence=CLASS_VALENCE[label])
