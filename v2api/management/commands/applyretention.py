from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import Project
from v2api.management.commands._jobs import run_and_report
from v2api.services.job_requests import RetentionRequest


class Command(BaseCommand):
    help = "Apply a project's retention rules now (or only list what they would delete)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project", help="the project's name")
        parser.add_argument("--dry-run", action="store_true", help="list the tags that would go, delete nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        if not Project.objects.filter(name=options["project"]).exists():
            raise CommandError(f"no project named {options['project']!r}")
        run_and_report(self, lambda: RetentionRequest(options["project"]), options["dry_run"])
