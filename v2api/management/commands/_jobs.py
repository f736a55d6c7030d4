"""What the maintenance commands share: run a job inline, recorded like any other, and print it."""

import json
from collections.abc import Callable

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from v2api.models import Job
from v2api.services import jobs
from v2api.services.job_requests import JobRequest


def run_and_report(command: BaseCommand, build: Callable[[], JobRequest], dry_run: bool) -> None:
    """Build the request from the command's options (a rule it breaks is a CommandError), run it, print it."""
    try:
        job_request = build()
    except ValidationError as error:
        raise CommandError(" ".join(error.messages)) from None
    job = jobs.record_job(job_request, dry_run=dry_run, from_command_line=True)
    jobs.run_job(job.id)
    job.refresh_from_db()
    if job.state != Job.State.SUCCEEDED:
        raise CommandError(f"job {job.id} failed: {job.error}")
    heading = f"{job.kind.replace('_', ' ')} (job {job.id}{', dry run' if dry_run else ''})"
    command.stdout.write(heading)
    for key, value in job.result.items():
        if not isinstance(value, list | dict):
            command.stdout.write(f"  {key}: {value}")
    command.stdout.write(json.dumps(job.result, indent=2, sort_keys=True))
