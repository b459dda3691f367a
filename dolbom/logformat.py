"""Log lines as JSON objects (`DOLBOM_LOG_FORMAT=json`) for log shippers; plain text otherwise.

One object per line: `ts` (UTC, ISO 8601), `level`, `logger`, `message`, `thread`, and `exc`
(the formatted traceback) when there is one. Values are JSON-escaped, so a message carrying a
newline or quotes (a device id from a hostile topic) cannot forge another line.
"""

import json
import logging
from datetime import UTC, datetime

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
FORMATS = ("text", "json")


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object on one line."""

    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "thread": record.threadName,
        }
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False)


def configure(level: int, log_format: str | None) -> str | None:
    """Set up the root logger; returns a warning (Korean and English) for an unknown format."""
    chosen = (log_format or "text").strip().lower()
    warning = None
    if chosen not in FORMATS:
        warning = (
            f"DOLBOM_LOG_FORMAT={log_format!r}는 알 수 없는 형식이라 text를 씁니다"
            " (text 또는 json). / "
            f"DOLBOM_LOG_FORMAT={log_format!r} is not a known format; using text (text or json)."
        )
        chosen = "text"
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if chosen == "json" else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=level, handlers=[handler])
    # Alembic's INFO lines ("Context impl SQLiteImpl.", "Running upgrade ...") on every CLI call
    # that opens the store are noise to a researcher or an operator; --verbose shows them.
    logging.getLogger("alembic").setLevel(
        logging.DEBUG if level <= logging.DEBUG else logging.WARNING
    )
    return warning
