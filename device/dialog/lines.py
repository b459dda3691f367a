"""Every sentence the companion says, in Korean and English (content items carry their own)."""

from enum import StrEnum


class Line(StrEnum):
    """A sentence of the companion; some have variants so the robot does not sound canned."""

    GREET_MORNING = "greet_morning"
    GREET_AFTERNOON = "greet_afternoon"
    GREET_EVENING = "greet_evening"
    GREET_NIGHT = "greet_night"
    CALLED = "called"
    NOT_UNDERSTOOD = "not_understood"
    THANKS_REPLY = "thanks_reply"
    GOOD_REPLY = "good_reply"
    HUSH = "hush"
    MESSAGE = "message"  # a caregiver's message (say_message), in their own words
    DONE_NOTHING_OPEN = "done_nothing_open"
    TOUCH_HUG = "touch_hug"
    TOUCH_PAT = "touch_pat"
    TOUCH_SQUEEZE = "touch_squeeze"
    # check-in
    ASK_SLEEP = "ask_sleep"
    ASK_MOOD = "ask_mood"
    REASK = "reask"
    SLEEP_GOOD = "sleep_good"
    SLEEP_POOR = "sleep_poor"
    MOOD_GOOD = "mood_good"
    MOOD_UNCLEAR = "mood_unclear"
    FOLLOW_SAD = "follow_sad"
    FOLLOW_LONELY = "follow_lonely"
    FOLLOW_PAIN = "follow_pain"
    FOLLOW_THANKS = "follow_thanks"
    OFFER_AFTER_SAD = "offer_after_sad"
    OFFER_AFTER_LONELY = "offer_after_lonely"
    OKAY_ANYTIME = "okay_anytime"
    # reminders
    REMIND_MEDICINE = "remind_medicine"
    REMIND_MEAL = "remind_meal"
    REMIND_WATER = "remind_water"
    REMIND_WALK = "remind_walk"
    REMIND_OTHER = "remind_other"
    AGAIN_MEDICINE = "again_medicine"
    AGAIN_MEAL = "again_meal"
    AGAIN_WATER = "again_water"
    AGAIN_WALK = "again_walk"
    AGAIN_OTHER = "again_other"
    REMIND_UNCLEAR = "remind_unclear"
    REMIND_CONFIRMED = "remind_confirmed"
    REMIND_ACK = "remind_ack"
    REMIND_LATER = "remind_later"
    REMIND_LAST = "remind_last"
    REMIND_STOPPED = "remind_stopped"
    # screening
    SCREEN_ASK_CONSENT = "screen_ask_consent"
    SCREEN_RESUME = "screen_resume"
    SCREEN_LATER = "screen_later"
    SCREEN_REASK_YES_NO = "screen_reask_yes_no"
    SCREEN_REASK_SCALE = "screen_reask_scale"
    SCREEN_OPTIONS = "screen_options"
    SCREEN_THANKS = "screen_thanks"
    SCREEN_PAUSED = "screen_paused"
    # content
    OFFER_STORY = "offer_story"
    OFFER_QUIZ = "offer_quiz"
    OFFER_SONG = "offer_song"
    OFFER_EXERCISE = "offer_exercise"
    OFFER_GAME = "offer_game"
    START_STORY = "start_story"
    START_SONG = "start_song"
    START_EXERCISE = "start_exercise"
    EXERCISE_CAUTION = "exercise_caution"
    AGAIN_QUESTION = "again_question"
    CONTENT_STOPPED = "content_stopped"
    CONTENT_DECLINED = "content_declined"
    CONTENT_BYE = "content_bye"
    NOTHING_TO_OFFER = "nothing_to_offer"
    QUIZ_ASK = "quiz_ask"
    QUIZ_RIGHT = "quiz_right"
    QUIZ_HINT = "quiz_hint"
    QUIZ_REVEAL = "quiz_reveal"
    QUIZ_MORE = "quiz_more"
    GAME_INTRO = "game_intro"
    GAME_RECALL = "game_recall"
    GAME_RESULT = "game_result"
    GAME_NONE = "game_none"


LINES: dict[str, dict[Line, tuple[str, ...]]] = {
    "ko": {
        Line.GREET_MORNING: (
            "좋은 아침이에요! 안녕히 주무셨어요?",
            "안녕히 주무셨어요? 오늘도 반가워요.",
        ),
        Line.GREET_AFTERNOON: ("안녕하세요! 점심은 맛있게 드셨어요?", "오후에도 반가워요."),
        Line.GREET_EVENING: (
            "좋은 저녁이에요. 오늘 하루 수고 많으셨어요.",
            "저녁이 되었네요. 오늘도 고생하셨어요.",
        ),
        Line.GREET_NIGHT: ("밤이 늦었어요. 편히 쉬세요.", "늦은 시간이네요. 푹 주무세요."),
        Line.CALLED: ("네, 부르셨어요?", "네, 여기 있어요. 말씀하세요."),
        Line.NOT_UNDERSTOOD: (
            "제가 잘 못 알아들었어요. "
            "옛날이야기, 노래, 퀴즈, 체조, 기억력 놀이를 함께 할 수 있어요.",
        ),
        Line.THANKS_REPLY: ("천만에요. 언제든지 말씀하세요.", "별말씀을요. 저도 고마워요."),
        Line.GOOD_REPLY: ("좋으시다니 저도 기뻐요.", "다행이에요. 저도 기분이 좋아요."),
        Line.HUSH: ("알겠어요. 조용히 있을게요. 필요하시면 불러 주세요.",),
        Line.MESSAGE: ('{sender}님이 메시지를 보내셨어요. "{text}"',),
        Line.DONE_NOTHING_OPEN: ("잘하셨어요!",),
        Line.TOUCH_HUG: (
            "저도 꼭 안아 드릴게요. 따뜻해요.",
            "안아 주셔서 고마워요. 마음이 포근해져요.",
        ),
        Line.TOUCH_PAT: ("헤헤, 쓰다듬어 주시니 기분 좋아요.", "간지러워요. 고마워요."),
        Line.TOUCH_SQUEEZE: (
            "손 꼭 잡아 주셔서 고마워요. 제가 옆에 있을게요.",
            "저도 꼭 잡았어요.",
        ),
        Line.ASK_SLEEP: ("어젯밤 잘 주무셨어요?",),
        Line.ASK_MOOD: ("오늘 기분은 어떠세요?",),
        Line.REASK: ("제가 잘 못 들었어요. 다시 한 번 말씀해 주시겠어요? {question}",),
        Line.SLEEP_GOOD: ("잘 주무셨다니 다행이에요.",),
        Line.SLEEP_POOR: ("잠을 설치셨군요. 낮에 잠깐 눈을 붙이시는 것도 좋아요.",),
        Line.MOOD_GOOD: ("좋으시다니 저도 기뻐요. 오늘도 즐겁게 지내요.",),
        Line.MOOD_UNCLEAR: ("그러셨군요. 말씀해 주셔서 고마워요.",),
        Line.FOLLOW_SAD: ("속상하셨군요. 무슨 일 있으셨어요? 제게 이야기해 주세요.",),
        Line.FOLLOW_LONELY: (
            "많이 적적하셨군요. 제가 말동무가 되어 드릴게요. 요즘 누가 제일 보고 싶으세요?",
        ),
        Line.FOLLOW_PAIN: (
            "어디가 불편하세요? 많이 아프시면 '살려 주세요'라고 말씀해 주세요. "
            "바로 보호자에게 알릴게요.",
        ),
        Line.FOLLOW_THANKS: ("말씀해 주셔서 고마워요. 제가 옆에 있을게요.",),
        Line.OFFER_AFTER_SAD: ("기분 전환으로 노래 한 곡 불러 드릴까요?",),
        Line.OFFER_AFTER_LONELY: ("제가 옛날이야기 하나 들려 드릴까요?",),
        Line.OKAY_ANYTIME: ("알겠어요. 필요하시면 언제든 불러 주세요.",),
        Line.REMIND_MEDICINE: ("{label} 드실 시간이에요. 드시고 나면 '먹었어'라고 말씀해 주세요.",),
        Line.REMIND_MEAL: (
            "{label} 드실 시간이에요. 맛있게 드시고 나서 '먹었어'라고 말씀해 주세요.",
        ),
        Line.REMIND_WATER: ("물 한 잔 드실 시간이에요. 드시고 나면 '마셨어'라고 말씀해 주세요.",),
        Line.REMIND_WALK: ("{label} 시간이에요. 다녀오시면 '다녀왔어'라고 말씀해 주세요.",),
        Line.REMIND_OTHER: ("{label} 시간이에요. 다 하시면 '했어'라고 말씀해 주세요.",),
        Line.AGAIN_MEDICINE: ("{label} 드셨어요?",),
        Line.AGAIN_MEAL: ("{label} 드셨어요?",),
        Line.AGAIN_WATER: ("물 드셨어요?",),
        Line.AGAIN_WALK: ("{label} 다녀오셨어요?",),
        Line.AGAIN_OTHER: ("{label} 하셨어요?",),
        Line.REMIND_UNCLEAR: ("{label} 하셨으면 '했어', 아직이면 '아직'이라고 말씀해 주세요.",),
        Line.REMIND_CONFIRMED: ("잘하셨어요! 제가 기록해 둘게요.", "잘 챙기셨네요. 최고예요!"),
        Line.REMIND_ACK: ("네, 하시고 나면 말씀해 주세요.",),
        Line.REMIND_LATER: ("알겠어요. 조금 있다가 다시 말씀드릴게요.",),
        Line.REMIND_LAST: ("알겠어요. 잊지 말고 꼭 챙기세요.",),
        Line.REMIND_STOPPED: ("알겠어요. 더 말씀드리지 않을게요.",),
        Line.SCREEN_ASK_CONSENT: ("{preamble} 지금 몇 가지 여쭤봐도 될까요?",),
        Line.SCREEN_RESUME: ("지난번에 하던 질문을 이어서 여쭤봐도 될까요?",),
        Line.SCREEN_LATER: ("알겠어요. 다음에 여쭤볼게요.",),
        Line.SCREEN_REASK_YES_NO: ("예, 아니오로 말씀해 주세요. {question}",),
        Line.SCREEN_REASK_SCALE: ("{options} 중에서 골라 말씀해 주세요. {question}",),
        Line.SCREEN_OPTIONS: ("{question} {options} 중에서 말씀해 주세요.",),
        Line.SCREEN_THANKS: ("대답해 주셔서 고마워요. 모두 끝났어요.",),
        Line.SCREEN_PAUSED: ("알겠어요. 나중에 이어서 할게요.",),
        Line.OFFER_STORY: ("심심하지 않으세요? '{title}' 이야기 들려 드릴까요?",),
        Line.OFFER_QUIZ: ("속담 퀴즈 하나 풀어 보실래요?",),
        Line.OFFER_SONG: ("'{title}' 한 곡 불러 드릴까요?",),
        Line.OFFER_EXERCISE: ("앉아서 하는 '{title}' 체조 같이 해 보실래요?",),
        Line.OFFER_GAME: ("기억력 놀이 한번 해 보실래요?",),
        Line.START_STORY: ("그럼 '{title}' 이야기 들려 드릴게요.",),
        Line.START_SONG: ("'{title}' 불러 드릴게요.",),
        Line.START_EXERCISE: ("'{title}' 체조를 시작할게요. 천천히 따라 해 보세요.",),
        Line.EXERCISE_CAUTION: ("아프거나 어지러우시면 바로 멈추세요.",),
        Line.AGAIN_QUESTION: ("한 번 더 해 드릴까요?",),
        Line.CONTENT_STOPPED: ("알겠어요. 여기까지 할게요.",),
        Line.CONTENT_DECLINED: ("알겠어요. 다음에 해요.",),
        Line.CONTENT_BYE: ("즐거우셨어요? 또 하고 싶으시면 말씀해 주세요.",),
        Line.NOTHING_TO_OFFER: ("지금은 준비된 것이 없어요.",),
        Line.QUIZ_ASK: ("속담 퀴즈예요. '{question}' 다음에 올 말은 무엇일까요?",),
        Line.QUIZ_RIGHT: ("딩동댕! 맞았어요. '{answer}'.",),
        Line.QUIZ_HINT: ("아쉬워요. 힌트를 드릴게요. {hint}",),
        Line.QUIZ_REVEAL: ("정답은 '{answer}'였어요.",),
        Line.QUIZ_MORE: ("한 문제 더 풀어 보실래요?",),
        Line.GAME_INTRO: ("'{title}' 놀이예요. 제가 말하는 단어를 잘 기억해 두세요. {words}.",),
        Line.GAME_RECALL: ("자, 방금 들으신 단어 중에 생각나는 것을 말씀해 보세요.",),
        Line.GAME_RESULT: ("{count}개를 기억하셨어요! 정답은 {words}였어요. 잘하셨어요.",),
        Line.GAME_NONE: ("괜찮아요. 정답은 {words}였어요. 다음에 또 해 봐요.",),
    },
    "en": {
        Line.GREET_MORNING: (
            "Good morning! Did you sleep well?",
            "Good morning. It's nice to see you.",
        ),
        Line.GREET_AFTERNOON: (
            "Good afternoon! Did you have a nice lunch?",
            "Hello again this afternoon.",
        ),
        Line.GREET_EVENING: (
            "Good evening. You've had a long day.",
            "Good evening. It's nice to see you.",
        ),
        Line.GREET_NIGHT: ("It's late. Have a restful night.", "It's getting late. Sleep well."),
        Line.CALLED: ("Yes? You called me?", "I'm here. What can I do for you?"),
        Line.NOT_UNDERSTOOD: (
            "I didn't quite catch that. We can do a story, a song, a quiz, "
            "an exercise or a memory game.",
        ),
        Line.THANKS_REPLY: ("You're very welcome.", "My pleasure. Thank you too."),
        Line.GOOD_REPLY: ("I'm so glad to hear that.", "That makes me happy too."),
        Line.HUSH: ("All right, I'll be quiet. Call me if you need me.",),
        Line.MESSAGE: ('A message from {sender}: "{text}"',),
        Line.DONE_NOTHING_OPEN: ("Well done!",),
        Line.TOUCH_HUG: ("A big hug back to you. That's so warm.", "Thank you for the hug."),
        Line.TOUCH_PAT: ("Hehe, that feels nice.", "That tickles. Thank you."),
        Line.TOUCH_SQUEEZE: (
            "Thank you for holding my hand. I'm right here.",
            "I'm holding on too.",
        ),
        Line.ASK_SLEEP: ("Did you sleep well last night?",),
        Line.ASK_MOOD: ("How are you feeling today?",),
        Line.REASK: ("Sorry, I didn't catch that. Could you say it again? {question}",),
        Line.SLEEP_GOOD: ("I'm glad you slept well.",),
        Line.SLEEP_POOR: ("Oh, a restless night. A little nap later might help.",),
        Line.MOOD_GOOD: ("I'm glad. Let's have a nice day.",),
        Line.MOOD_UNCLEAR: ("I see. Thank you for telling me.",),
        Line.FOLLOW_SAD: ("I'm sorry you feel down. Did something happen? You can tell me.",),
        Line.FOLLOW_LONELY: (
            "It can feel lonely. I'm here to keep you company. Who do you miss most?",
        ),
        Line.FOLLOW_PAIN: (
            "Where does it hurt? If it's bad, just say 'help me' "
            "and I'll call your caregiver right away.",
        ),
        Line.FOLLOW_THANKS: ("Thank you for telling me. I'm right here with you.",),
        Line.OFFER_AFTER_SAD: ("Shall I sing you a song to cheer you up?",),
        Line.OFFER_AFTER_LONELY: ("Shall I tell you a story?",),
        Line.OKAY_ANYTIME: ("All right. Just call me whenever you like.",),
        Line.REMIND_MEDICINE: ("It's time for your {label}. Tell me 'I took it' when you have.",),
        Line.REMIND_MEAL: ("It's time for {label}. Enjoy it, and tell me when you've eaten.",),
        Line.REMIND_WATER: ("Time for a glass of water. Tell me when you've had some.",),
        Line.REMIND_WALK: ("It's time for {label}. Tell me when you're back.",),
        Line.REMIND_OTHER: ("It's time for {label}. Tell me 'done' when you've done it.",),
        Line.AGAIN_MEDICINE: ("Have you taken your {label}?",),
        Line.AGAIN_MEAL: ("Have you had {label}?",),
        Line.AGAIN_WATER: ("Have you had some water?",),
        Line.AGAIN_WALK: ("Have you been for {label}?",),
        Line.AGAIN_OTHER: ("Have you done {label}?",),
        Line.REMIND_UNCLEAR: ("If you've done {label}, say 'I did it'; if not, say 'not yet'.",),
        Line.REMIND_CONFIRMED: (
            "Well done! I'll make a note of it.",
            "Great, thank you for telling me.",
        ),
        Line.REMIND_ACK: ("All right, tell me when you've done it.",),
        Line.REMIND_LATER: ("All right, I'll remind you again a little later.",),
        Line.REMIND_LAST: ("All right. Please don't forget.",),
        Line.REMIND_STOPPED: ("All right, I won't remind you again.",),
        Line.SCREEN_ASK_CONSENT: ("{preamble} May I ask you a few questions now?",),
        Line.SCREEN_RESUME: ("May I carry on with the questions from last time?",),
        Line.SCREEN_LATER: ("All right, I'll ask another time.",),
        Line.SCREEN_REASK_YES_NO: ("Please answer yes or no. {question}",),
        Line.SCREEN_REASK_SCALE: ("Please choose one of: {options}. {question}",),
        Line.SCREEN_OPTIONS: ("{question} Please say {options}.",),
        Line.SCREEN_THANKS: ("Thank you for answering. That's all.",),
        Line.SCREEN_PAUSED: ("All right, we'll carry on later.",),
        Line.OFFER_STORY: ("Would you like to hear the story of '{title}'?",),
        Line.OFFER_QUIZ: ("Would you like a proverb quiz?",),
        Line.OFFER_SONG: ("Shall I sing '{title}' for you?",),
        Line.OFFER_EXERCISE: ("Would you like to do some '{title}' in your chair with me?",),
        Line.OFFER_GAME: ("Would you like to play a memory game?",),
        Line.START_STORY: ("Here is the story of '{title}'.",),
        Line.START_SONG: ("Here is '{title}'.",),
        Line.START_EXERCISE: ("Let's do '{title}'. Follow along slowly.",),
        Line.EXERCISE_CAUTION: ("If anything hurts or you feel dizzy, stop right away.",),
        Line.AGAIN_QUESTION: ("Shall we do it once more?",),
        Line.CONTENT_STOPPED: ("All right, we'll stop here.",),
        Line.CONTENT_DECLINED: ("All right, maybe later.",),
        Line.CONTENT_BYE: ("Did you enjoy that? Just ask if you'd like more.",),
        Line.NOTHING_TO_OFFER: ("I have nothing ready for that just now.",),
        Line.QUIZ_ASK: ("Proverb quiz! How does this one end: '{question}'",),
        Line.QUIZ_RIGHT: ("Ding dong! That's right: '{answer}'.",),
        Line.QUIZ_HINT: ("Not quite. Here's a hint: {hint}",),
        Line.QUIZ_REVEAL: ("The answer was '{answer}'.",),
        Line.QUIZ_MORE: ("Would you like another one?",),
        Line.GAME_INTRO: ("This one is '{title}'. Try to remember these words: {words}.",),
        Line.GAME_RECALL: ("Now, which of those words do you remember?",),
        Line.GAME_RESULT: ("You remembered {count}! The words were {words}. Well done.",),
        Line.GAME_NONE: (
            "That's all right. The words were {words}. Let's try again another time.",
        ),
    },
}


def render(line: Line, language: str, variant: int = 0, **values: object) -> str:
    """The line's text in the language (Korean when unknown); `variant` picks among versions."""
    table = LINES.get(language, LINES["ko"])
    versions = table[line]
    return versions[variant % len(versions)].format(**values)
