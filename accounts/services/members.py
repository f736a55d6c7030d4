"""Project members and their roles. Who may call these is asked first, of
accounts/permissions.py (`can_manage_project`); these only keep the data consistent."""

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.models import Membership, Project, Role
from audit import actions
from audit.recorder import record


def add_member(project: Project, username: str, role: str) -> Membership:
    """Make an active user a member of `project` with `role`.

    Raises ValidationError naming the field: no such active user, already a member, unknown role.
    """
    _check_role(role)
    user = User.objects.filter(username=username, is_active=True).first()
    if user is None:
        raise ValidationError({"username": f"There is no active user named {username}."})
    already = f"{username} is already a member of {project.name}; change their role instead."
    if project.memberships.filter(user=user).exists():
        raise ValidationError({"username": already})
    try:
        with transaction.atomic():
            membership = Membership.objects.create(project=project, user=user, role=role)
            record(actions.MEMBER_ADD, project=project.name, resource=username, detail={"role": role})
            return membership
    except IntegrityError:
        raise ValidationError({"username": already}) from None


def change_role(project: Project, username: str, role: str) -> Membership:
    """Give a member another role. Raises Membership.DoesNotExist if they are no longer a member."""
    _check_role(role)
    with transaction.atomic():
        membership = project.memberships.select_for_update().select_related("user").get(user__username=username)
        previous, membership.role = membership.role, role
        membership.save(update_fields=["role"])
        record(
            actions.MEMBER_ROLE_CHANGE,
            project=project.name,
            resource=username,
            detail={"role": role, "previous_role": previous},
        )
    return membership


def remove_member(project: Project, username: str) -> None:
    """Remove a member. Raises Membership.DoesNotExist if they are already gone."""
    with transaction.atomic():
        deleted, _ = project.memberships.filter(user__username=username).delete()
        if not deleted:
            raise Membership.DoesNotExist(f"{username} is not a member of {project.name}.")
        record(actions.MEMBER_REMOVE, project=project.name, resource=username)


def _check_role(role: str) -> None:
    if role not in Role.values:
        raise ValidationError({"role": f"Unknown role {role!r}; choose one of {', '.join(Role.values)}."})
