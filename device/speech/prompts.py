"""Every spoken prompt of the safety loop, in Korean and English."""

from enum import StrEnum


class Prompt(StrEnum):
    """A sentence the robot can say; the text depends on the language."""

    ARE_YOU_OK = "are_you_ok"
    ARE_YOU_OK_AGAIN = "are_you_ok_again"
    HELP_CALLED = "help_called"
    STILL_WITH_YOU = "still_with_you"
    GLAD_YOU_ARE_FINE = "glad_you_are_fine"
    HELP_ACKNOWLEDGED = "help_acknowledged"
    NEED_HELP = "need_help"  # the check band: maybe a call for help, maybe not
    NEED_HELP_AGAIN = "need_help_again"


PROMPTS: dict[str, dict[Prompt, str]] = {
    "ko": {
        Prompt.ARE_YOU_OK: "괜찮으세요? 괜찮으시면 '괜찮아요'라고 말씀해 주세요.",
        Prompt.ARE_YOU_OK_AGAIN: "괜찮으세요? 대답이 없으시면 보호자에게 연락할게요.",
        Prompt.HELP_CALLED: "지금 보호자에게 연락했어요. 제가 옆에 있을게요.",
        Prompt.STILL_WITH_YOU: "보호자에게 다시 알렸어요. 조금만 기다려 주세요. 제가 옆에 있어요.",
        Prompt.GLAD_YOU_ARE_FINE: (
            "다행이에요. 도움이 필요하시면 언제든 '살려 주세요'라고 불러 주세요."
        ),
        Prompt.HELP_ACKNOWLEDGED: "{who}님이 연락을 받으셨어요. 곧 도와주실 거예요.",
        Prompt.NEED_HELP: "도와 드릴까요? 괜찮으시면 '괜찮아요'라고 말씀해 주세요.",
        Prompt.NEED_HELP_AGAIN: "도와 드릴까요? 대답이 없으시면 보호자에게 연락할게요.",
    },
    "en": {
        Prompt.ARE_YOU_OK: "Are you OK? If you are, just say 'I'm fine'.",
        Prompt.ARE_YOU_OK_AGAIN: "Are you OK? If you don't answer, I will call your caregiver.",
        Prompt.HELP_CALLED: "I have called your caregiver. I'm right here with you.",
        Prompt.STILL_WITH_YOU: "I told your caregiver again. Help is coming; I'm right here.",
        Prompt.GLAD_YOU_ARE_FINE: "I'm glad. If you ever need help, just say 'help me'.",
        Prompt.HELP_ACKNOWLEDGED: "{who} got the message and is coming to help you.",
        Prompt.NEED_HELP: "Do you need help? If you are fine, just say 'I'm fine'.",
        Prompt.NEED_HELP_AGAIN: (
            "Do you need help? If you don't answer, I will call your caregiver."
        ),
    },
}


def render(prompt: Prompt, language: str, **values: str) -> str:
    """The prompt's text in the language (Korean when the language is unknown)."""
    table = PROMPTS.get(language, PROMPTS["ko"])
    return table[prompt].format(**values)
