"""Log lines as JSON objects (LOG_FORMAT=json) or as plain text (the embedded run's default).

One JSON object per line: `time`, `level`, `logger`, `message`, `request_id`, and whatever a
caller passed in `extra=` (the access log passes repository, digest, bytes...). gunicorn's access
lines become objects too, with the request's fields instead of the Apache-style string.

This module must not touch Django settings: gunicorn's master loads it before Django is set up.
"""

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from oci.request_edge import current_request_id

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD_ATTRIBUTES = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys() | {"message", "asctime", "request_id"}
)


class RequestIdFilter(logging.Filter):
    """Stamps each record with the id of the request being handled ("" outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", ""):
            record.request_id = current_request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
        }
        if record.name == "gunicorn.access" and isinstance(record.args, Mapping):
            entry.update(_gunicorn_access_fields(record.args))
        else:
            entry["message"] = record.getMessage()
        entry["request_id"] = getattr(record, "request_id", "") or entry.get("request_id", "")
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRIBUTES and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def _gunicorn_access_fields(atoms: Mapping[str, Any]) -> dict[str, Any]:
    """gunicorn passes its access "atoms" as the record's arguments; keep the useful ones by name."""
    sent = atoms.get("B")
    return {
        "message": "request",
        "remote_addr": atoms.get("h"),
        "method": atoms.get("m"),
        "path": atoms.get("U"),
        "query": atoms.get("q") or "",
        "status": int(atoms.get("s") or 0),
        # The body bytes gunicorn wrote: 0 for a blob that nginx sends through X-Accel-Redirect.
        "body_bytes": sent if isinstance(sent, int) else 0,
        "duration_ms": round(int(atoms.get("D") or 0) / 1000, 3),
        "user_agent": atoms.get("a"),
        "request_id": atoms.get("{x-request-id}o", ""),
    }


def logging_config(log_format: str, level: str) -> dict[str, Any]:
    """The dictConfig for Django (settings.LOGGING) and, with the gunicorn loggers, for gunicorn."""
    formatter: dict[str, Any] = (
        {"()": "registry_ui.logs.JsonFormatter"}
        if log_format == "json"
        else {"format": "%(asctime)s [%(process)d] [%(levelname)s] %(name)s %(request_id)s %(message)s"}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "registry_ui.logs.RequestIdFilter"}},
        "formatters": {"default": formatter},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "filters": ["request_id"],
                "stream": "ext://sys.stderr",
            },
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # A registry answers 401 and 404 all day (challenges, existence checks); only 5xx is news.
            "django.request": {"level": "ERROR"},
        },
    }


def gunicorn_logging_config(level: str) -> dict[str, Any]:
    """JSON logging for gunicorn's own loggers, the access log included (gunicorn's logconfig_dict)."""
    config = logging_config("json", level)
    config["loggers"].update(
        {
            "gunicorn.error": {"level": level, "handlers": ["console"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["console"], "propagate": False},
        }
    )
    return config
