from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from v2api.management.commands._jobs import run_and_report
from v2api.services.job_requests import GarbageCollectionRequest


class Command(BaseCommand):
    help = "Collect garbage now, online: delete what nothing needs and free its disk."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="report what would go, delete nothing")
        parser.add_argument(
            "--grace-seconds",
            type=int,
            default=settings.REGISTRY_GC_GRACE_SECONDS,
            help="keep what was uploaded or linked this recently (default: REGISTRY_GC_GRACE_SECONDS)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        run_and_report(self, lambda: GarbageCollectionRequest(options["grace_seconds"]), options["dry_run"])
