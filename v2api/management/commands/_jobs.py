"""What the maintenance commands share: run a job inline, recorded like any other, and print it."""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from v2api.models import Job
from v2api.services import jobs


def run_and_report(command: BaseCommand, kind: str, parameters: dict[str, Any], dry_run: bool) -> None:
    job = Job.objects.create(kind=kind, parameters=parameters, dry_run=dry_run)
    jobs.run_job(job.id)
    job.refresh_from_db()
    if job.state != Job.State.SUCCEEDED:
        raise CommandError(f"job {job.id} failed: {job.error}")
    heading = f"{kind.replace('_', ' ')} (job {job.id}{', dry run' if dry_run else ''})"
    command.stdout.write(heading)
    for key, value in job.result.items():
        if not isinstance(value, list | dict):
            command.stdout.write(f"  {key}: {value}")
    command.stdout.write(json.dumps(job.result, indent=2, sort_keys=True))
