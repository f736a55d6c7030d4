"""Project members and their roles: people's own, and directory groups'. Who may call these is
asked first, of accounts/permissions.py (`can_manage_project`); these only keep the data consistent."""

from django.contrib.auth.models import Group, User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.models import GroupMembership, Membership, Project, Role
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


def add_group(project: Project, group_name: str, role: str) -> GroupMembership:
    """Give a directory group (by its cn, as logins copy it) `role` in `project`. The group need
    not have logged in yet: its people get the role from their first login on.

    Raises ValidationError naming the field: empty or too long a name, already added, unknown role.
    """
    _check_role(role)
    group_name = group_name.strip()
    if not group_name or len(group_name) > Group._meta.get_field("name").max_length:  # type: ignore[operator]
        raise ValidationError({"group": "Give the group's name (its cn in the directory), at most 150 characters."})
    already = f"Group {group_name} is already in {project.name}; change its role instead."
    try:
        with transaction.atomic():
            group, _ = Group.objects.get_or_create(name=group_name)
            membership = GroupMembership.objects.create(project=project, group=group, role=role)
            record(actions.GROUP_ADD, project=project.name, resource=group_name, detail={"role": role})
            return membership
    except IntegrityError:
        raise ValidationError({"group": already}) from None


def change_group_role(project: Project, group_name: str, role: str) -> GroupMembership:
    """Give a group another role. Raises GroupMembership.DoesNotExist if it is no longer in the project."""
    _check_role(role)
    with transaction.atomic():
        membership = project.group_memberships.select_for_update().select_related("group").get(group__name=group_name)
        previous, membership.role = membership.role, role
        membership.save(update_fields=["role"])
        record(
            actions.GROUP_ROLE_CHANGE,
            project=project.name,
            resource=group_name,
            detail={"role": role, "previous_role": previous},
        )
    return membership


def remove_group(project: Project, group_name: str) -> None:
    """Take a group out of a project. Raises GroupMembership.DoesNotExist if it is already gone."""
    with transaction.atomic():
        deleted, _ = project.group_memberships.filter(group__name=group_name).delete()
        if not deleted:
            raise GroupMembership.DoesNotExist(f"Group {group_name} is not in {project.name}.")
        record(actions.GROUP_REMOVE, project=project.name, resource=group_name)
