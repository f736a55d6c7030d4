"""The directory takes back what it did: a person the re-check deactivated (missing or disabled
there) is active again once the directory has them back. A person an administrator deactivated
is not: the directory accepting their password is no word on that (accounts/directory.py)."""

from django.contrib.auth.models import User
from django.db import transaction

from accounts.models import DirectoryDeactivation
from audit import actions
from audit.context import SYSTEM
from audit.recorder import record

BACK = "back in the directory"


def reactivate(user: User) -> bool:
    """Activate a person the re-check deactivated, now that the directory accepted their password
    (a login) or found them enabled (the re-check); whether they were. Their personal access
    tokens stay revoked (the re-check revoked them) and their refresh tokens ended."""
    with transaction.atomic():
        forgotten, _ = DirectoryDeactivation.objects.filter(user=user).delete()
        if not forgotten:
            return False
        user.is_active = True
        user.save(update_fields=["is_active"])
        # The system's doing, not the person's, though it happens during their login.
        record(actions.USER_ACTIVATE, resource=user.get_username(), actor=SYSTEM, detail={"reason": BACK})
    return True
