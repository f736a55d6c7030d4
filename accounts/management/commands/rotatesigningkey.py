"""Rotate the token signing key: a new key signs from now on; older keys keep verifying.

`--retire` removes every key but the newest once the newest has signed for longer than a
token lives, so no live token loses its key.
"""

import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from accounts.tokens import write_new_key


class Command(BaseCommand):
    help = "Write a new token signing key (and optionally retire old ones)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--retire", action="store_true", help="remove keys no live token can need")

    def handle(self, *args: Any, **options: Any) -> None:
        directory = Path(settings.REGISTRY_SIGNING_KEY_DIR)
        if options["retire"]:
            self._retire(directory)
            return
        path = write_new_key(directory)
        self.stdout.write(f"new signing key {path.name}; running processes pick it up within a minute")

    def _retire(self, directory: Path) -> None:
        keys = sorted(directory.glob("*.pem"))
        if len(keys) < 2:
            self.stdout.write("only one key; nothing to retire")
            return
        newest_age = time.time() - keys[-1].stat().st_mtime
        if newest_age < settings.REGISTRY_TOKEN_TTL + 60:
            self.stdout.write(f"the newest key is {int(newest_age)} s old; tokens of older keys may still be live")
            return
        for key in keys[:-1]:
            key.unlink()
            self.stdout.write(f"retired {key.name}")
