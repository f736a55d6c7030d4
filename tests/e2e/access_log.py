"""The live registry's access log (gunicorn writes it to server.log), read back as requests.

A test marks the log before a client runs and reads what was logged after the mark, so it
can assert what the client really sent and what the server answered.
"""

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

# gunicorn's default access format: %(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"
_ACCESS_LINE = re.compile(
    r'"(?P<method>[A-Z]+) (?P<target>\S+) HTTP/[\d.]+" (?P<status>\d{3}) \S+ "[^"]*" "(?P<user_agent>.*)"$'
)


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str
    query: dict[str, str]
    status: int
    user_agent: str

    def is_for(self, repository: str) -> bool:
        return self.path.startswith(f"/v2/{repository}/")


class AccessLog:
    """The requests logged since this object was made."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.start = path.stat().st_size

    def requests(self) -> list[LoggedRequest]:
        with open(self.path, "rb") as log:
            log.seek(self.start)
            lines = log.read().decode(errors="replace").splitlines()
        requests: list[LoggedRequest] = []
        for line in lines:
            match = _ACCESS_LINE.search(line)
            if match is None:
                continue
            target = urlsplit(match["target"])
            requests.append(
                LoggedRequest(
                    method=match["method"],
                    path=target.path,
                    query=dict(parse_qsl(target.query)),
                    status=int(match["status"]),
                    user_agent=match["user_agent"],
                )
            )
        return requests

    def wait_for(self, condition: Callable[[list[LoggedRequest]], bool], timeout: float = 5) -> list[LoggedRequest]:
        """The logged requests once `condition` holds for them, or as they are when time runs out.

        gunicorn writes a line after the response has gone out, so a client can exit a moment
        before its last requests reach the log.
        """
        deadline = time.monotonic() + timeout
        while True:
            requests = self.requests()
            if condition(requests) or time.monotonic() > deadline:
                return requests
            time.sleep(0.05)
