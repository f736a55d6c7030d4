"""The progress line of the long commands (importregistry, migratestorage)."""

import sys
import time

from django.core.management.base import BaseCommand


class ProgressLine:
    """One line on stderr, rewritten in place on a terminal; elsewhere (a log) one line every few
    seconds and the last one."""

    EVERY_SECONDS = 5.0

    def __init__(self, command: BaseCommand) -> None:
        self.command = command
        self.terminal = sys.stderr.isatty()
        self.last = 0.0

    def show(self, line: str, finished: bool) -> None:
        if self.terminal:
            self.command.stderr.write(f"\r\033[K{line}", ending="\n" if finished else "")
            self.command.stderr.flush()
        elif finished or time.monotonic() - self.last >= self.EVERY_SECONDS:
            self.last = time.monotonic()
            self.command.stderr.write(line)
