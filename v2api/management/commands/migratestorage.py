from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from v2api.management.commands._progress import ProgressLine
from v2api.services.storage_migration import MigrationProgress, migrate_blobs
from v2api.storage import blobstore

MIB = 1024 * 1024


class Command(BaseCommand):
    help = (
        "Copy every blob of the store in use (REGISTRY_STORAGE) into the other one, digests verified; "
        "safe to run again, it copies only what the target lacks. Then switch REGISTRY_STORAGE."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--to",
            required=True,
            choices=["s3", "filesystem"],
            help="s3: into REGISTRY_S3_BUCKET (and REGISTRY_S3_PREFIX); filesystem: under REGISTRY_STORAGE_ROOT",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        to = options["to"]
        if to == settings.REGISTRY_STORAGE:
            raise CommandError(f"the registry keeps its blobs in {to} already (REGISTRY_STORAGE={to})")
        try:
            target = blobstore.store(to)
        except ImproperlyConfigured as error:
            raise CommandError(f"{error}: set it to the bucket to copy into") from None
        if to == "filesystem":
            settings.REGISTRY_STORAGE_ROOT.mkdir(parents=True, exist_ok=True)
        # Whatever the disk or the bucket answers (no such bucket, access denied, read-only), the
        # operator reads it, before any copying.
        try:
            target.check_writable()
        except Exception as error:
            raise CommandError(f"{to} takes no writes: {error}") from None
        line = ProgressLine(self)

        def report(progress: MigrationProgress) -> None:
            line.show(
                f"blob {progress.blobs_done}/{progress.blobs_total},"
                f" {progress.bytes_done / MIB:.1f}/{progress.bytes_total / MIB:.1f} MiB",
                progress.blobs_done == progress.blobs_total,
            )

        summary = migrate_blobs(blobstore.store(), target, report)
        self.stdout.write(
            f"{summary.blobs_copied} blobs copied ({summary.bytes_copied / MIB:.1f} MiB),"
            f" {summary.blobs_present} already there"
        )
        for problem in summary.problems:
            self.stderr.write(f"problem: {problem}")
        if summary.problems:
            raise CommandError(f"{len(summary.problems)} problems (above): those blobs are not in {to}")
        self.stdout.write(_what_to_switch(to))


def _what_to_switch(to: str) -> str:
    if to == "s3":
        where = f"REGISTRY_STORAGE=s3 REGISTRY_S3_BUCKET={settings.REGISTRY_S3_BUCKET}"
        if settings.REGISTRY_S3_PREFIX:
            where += f" REGISTRY_S3_PREFIX={settings.REGISTRY_S3_PREFIX}"
        where += " (and the AWS_* variables this command ran with)"
    else:
        where = f"REGISTRY_STORAGE=filesystem REGISTRY_STORAGE_ROOT={settings.REGISTRY_STORAGE_ROOT}"
    return (
        f"Every blob is in {to} now. Stop pushes, run this command once more for what arrived meanwhile,"
        f" then set {where} on every web node, worker and beat, and restart them."
    )
