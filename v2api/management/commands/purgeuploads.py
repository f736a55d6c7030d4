from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from v2api.management.commands._jobs import run_and_report
from v2api.services.job_requests import UploadPurgeRequest


class Command(BaseCommand):
    help = "Drop uploads nobody touched for a while, and files crashed requests left behind."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="report what would go, delete nothing")
        parser.add_argument(
            "--max-age-seconds",
            type=int,
            default=settings.REGISTRY_STALE_UPLOAD_SECONDS,
            help="an upload untouched this long is stale (default: REGISTRY_STALE_UPLOAD_SECONDS)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        run_and_report(self, lambda: UploadPurgeRequest(options["max_age_seconds"]), options["dry_run"])
