"""Beat's upkeep of accounts: the re-check of the company directory's people."""

from celery import shared_task

from accounts.services.directory_recheck import LONGEST_RUN_SECONDS, recheck_directory_people


@shared_task(
    name="accounts.tasks.recheck_directory_people",
    time_limit=LONGEST_RUN_SECONDS,
    soft_time_limit=LONGEST_RUN_SECONDS - 100,
)
def recheck_directory_people_task() -> int:
    """Deactivate the directory people missing or disabled there; the number deactivated.
    Idempotent: a second run finds them inactive and leaves them be."""
    return len(recheck_directory_people().deactivated)
