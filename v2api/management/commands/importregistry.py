from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.services.projects import PROJECT_NAME_RULE
from oci.names import is_repository_name
from v2api.management.commands._progress import ProgressLine
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
        line = ProgressLine(self)

        def report(progress: ImportProgress) -> None:
            line.show(
                f"{progress.repository}: blob {progress.blobs_done}/{progress.blobs_total},"
                f" {progress.bytes_copied / MIB:.1f} MiB copied in all",
                progress.blobs_done == progress.blobs_total,
            )

        summary = import_registry(source, project, report)
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
