"""Projects: created on first push where the rules allow it."""

from django.db import IntegrityError, transaction

from accounts.models import Membership, Project, Role
from accounts.permissions import Principal, may_create_project, project_name_of


def ensure_project_for_push(principal: Principal, repository_name: str) -> None:
    """Create the project of `repository_name` if it is missing and `principal` may create it.

    A personal project (named after its user) is private and its user becomes its admin.
    """
    name = project_name_of(repository_name)
    if Project.objects.filter(name=name).exists() or not may_create_project(principal, name):
        return
    try:
        with transaction.atomic():
            project = Project.objects.create(name=name)
            if principal.user is not None and name == principal.user.get_username():
                Membership.objects.create(project=project, user=principal.user, role=Role.ADMIN)
    except IntegrityError:
        # A concurrent push created it first.
        pass
