"""Run the re-check of the directory's people now, as beat does every REGISTRY_LDAP_RECHECK_SECONDS."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accounts.services.directory_deactivations import BACK
from accounts.services.directory_recheck import recheck_directory_people


class Command(BaseCommand):
    help = (
        "Look every directory person up again; deactivate those missing or disabled in the directory, "
        "activate again those it deactivated and the directory has back."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        result = recheck_directory_people()
        if result.already_running:
            raise CommandError("another re-check is still running (beat's, or another command's); try again later")
        for username, reason in result.deactivated.items():
            self.stdout.write(f"deactivated {username}: {reason}")
        for username in result.reactivated:
            self.stdout.write(f"activated again {username}: {BACK}")
        for username in result.admin_revoked:
            self.stdout.write(f"no longer a system administrator: {username}")
        for username in result.admin_granted:
            self.stdout.write(f"made a system administrator: {username}")
        if result.directory_failed:
            raise CommandError(f"the directory did not answer; stopped after {result.checked} people")
        self.stdout.write(f"checked {result.checked} people")
