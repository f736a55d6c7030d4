import sys
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.services.projects import PROJECT_NAME_RULE
from oci.names import is_repository_name
from v2api.services.registry_import import ImportProgress, import_registry
from v2api.storage.distribution_layout import DistributionStore, NotADistributionStore

MIB = 1024 * 1024


class Command(BaseCommand):
    help = (
        "Import a registry:2 (distribution) filesystem store: repositories, tags, manifests and blobs, "
        "digests verified. Safe to run again: what is here already is skipped."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help="the store's rootdirectory (which holds docker/registry/v2)")
        parser.add_argument(
            "--project",
            help="import every repository into this project (NAME becomes PROJECT/NAME); "
            "by default the first component of each name is its project, created if missing",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        project = options["project"]
        if project is not None and (not is_repository_name(project) or "/" in project):
            raise CommandError(f"--project {project!r}: {PROJECT_NAME_RULE}")
        try:
            source = DistributionStore(options["path"])
        except NotADistributionStore as error:
            raise CommandError(str(error)) from None
        summary = import_registry(source, project, _ProgressLine(self))
        self.stdout.write(
            f"imported {summary.repositories} repositories"
            f" ({len(summary.projects_created)} new projects{': ' if summary.projects_created else ''}"
            f"{', '.join(summary.projects_created)}):"
            f" {summary.blobs_copied} blobs copied ({summary.bytes_copied / MIB:.1f} MiB),"
            f" {summary.blobs_present} already here;"
            f" {summary.manifests_imported} manifests imported, {summary.manifests_present} already here;"
            f" {summary.tags_imported} tags imported, {summary.tags_present} already here"
        )
        for problem in summary.problems:
            self.stderr.write(f"problem: {problem}")
        if summary.problems:
            raise CommandError(f"{len(summary.problems)} problems (above): what they name was not imported")


class _ProgressLine:
    """One line on stderr, rewritten in place on a terminal; elsewhere (a log) one line every few
    seconds and at the end of each repository."""

    EVERY_SECONDS = 5.0

    def __init__(self, command: BaseCommand) -> None:
        self.command = command
        self.terminal = sys.stderr.isatty()
        self.last = 0.0

    def __call__(self, progress: ImportProgress) -> None:
        line = (
            f"{progress.repository}: blob {progress.blobs_done}/{progress.blobs_total},"
            f" {progress.bytes_copied / MIB:.1f} MiB copied in all"
        )
        finished = progress.blobs_done == progress.blobs_total
        if self.terminal:
            self.command.stderr.write(f"\r\033[K{line}", ending="\n" if finished else "")
            self.command.stderr.flush()
        elif finished or time.monotonic() - self.last >= self.EVERY_SECONDS:
            self.last = time.monotonic()
            self.command.stderr.write(line)
