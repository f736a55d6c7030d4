"""The one answer to "may this caller pull, push or delete in this repository?", used by the
token endpoint, the registry, the dashboard and the management API alike."""

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.db.models import Q, QuerySet

from accounts.models import GroupMembership, Membership, Project, RobotAccount, Role
from accounts.scopes import DELETE, PULL, PUSH, REPOSITORY_ACTIONS
from oci.names import project_name_of

ROLE_ACTIONS: dict[str, frozenset[str]] = {
    Role.GUEST: frozenset({PULL}),
    Role.DEVELOPER: frozenset({PULL, PUSH}),
    Role.MAINTAINER: frozenset({PULL, PUSH, DELETE}),
    Role.ADMIN: frozenset({PULL, PUSH, DELETE}),
}
NOTHING: frozenset[str] = frozenset()


def public_actions(project_public: bool) -> frozenset[str]:
    """The public rule, written once: anyone, anonymous callers included, may pull the
    repositories of a public project, and do nothing else there. `public_projects` is the same
    rule as a filter on projects."""
    return frozenset({PULL}) if project_public else NOTHING


def public_projects() -> Q:
    return Q(public=True)


@dataclass(frozen=True)
class Principal:
    """Who is asking: a user, a robot account, or nobody (anonymous)."""

    subject: str
    user: User | None = None
    robot: RobotAccount | None = None

    @property
    def is_anonymous(self) -> bool:
        return self.user is None and self.robot is None

    @property
    def is_system_admin(self) -> bool:
        return self.user is not None and bool(getattr(self.user, "is_superuser", False))

    @classmethod
    def for_user(cls, user: AbstractBaseUser | AnonymousUser) -> "Principal":
        if not user.is_authenticated:
            return ANONYMOUS
        assert isinstance(user, User)
        return cls(subject=user.get_username(), user=user)


ANONYMOUS = Principal(subject="")


def allowed_actions(principal: Principal, repository_name: str, project_public: bool | None = None) -> frozenset[str]:
    """The repository actions (pull, push, delete) `principal` may take on `repository_name`.

    For an anonymous caller the project's public flag alone decides; a caller that already read
    it (the registry's fast path reads it with the manifest or blob row) passes it in.
    """
    if principal.is_anonymous and project_public is not None:
        return public_actions(project_public)
    project = Project.objects.filter(name=project_name_of(repository_name)).first()
    if project is None:
        return REPOSITORY_ACTIONS if may_create_project(principal, project_name_of(repository_name)) else NOTHING
    return _actions_in_project(principal, project)


def may_create_project(principal: Principal, project_name: str) -> bool:
    """Pushing into a missing project creates it for system admins (if the setting allows) and
    for a user pushing into the personal project named after them."""
    if principal.user is None:
        return False
    if principal.is_system_admin and settings.REGISTRY_ADMINS_CREATE_PROJECTS:
        return True
    return project_name == principal.user.get_username()


def pullable_projects(principal: Principal) -> "QuerySet[Project] | None":
    """The projects whose repositories `principal` may pull; None means every one (system admins)."""
    if principal.is_system_admin:
        return None
    visible = public_projects()
    if principal.robot is not None and principal.robot.can_pull and principal.robot.is_active:
        visible |= Q(id=principal.robot.project_id)
    elif principal.user is not None:
        visible |= Q(memberships__user=principal.user) | Q(group_memberships__group__user=principal.user)
    return Project.objects.filter(visible).distinct()


def visible_projects(principal: Principal) -> QuerySet[Project]:
    """Projects whose repositories `principal` may pull: public ones, their own (a robot's own, if it
    may pull), every one for system admins.

    The one visibility filter the dashboard and the management API share, as netbox's
    RestrictedQuerySet.restrict(user, "view") is: a page or an endpoint narrows this queryset, it
    never writes a rule of its own.
    """
    pullable = pullable_projects(principal)
    return Project.objects.all() if pullable is None else pullable


def can_see_repository(principal: Principal, repository_name: str) -> bool:
    """Whether `principal` may see (and pull) the repository: its project is visible to them."""
    return visible_projects(principal).filter(name=project_name_of(repository_name)).exists()


def _actions_in_project(principal: Principal, project: Project) -> frozenset[str]:
    actions = set(public_actions(project.public))
    if principal.robot is not None:
        robot = principal.robot
        if robot.project_id == project.id and robot.is_active:
            actions |= _robot_actions(robot)
        return frozenset(actions)
    if principal.user is None:
        return frozenset(actions)
    if principal.is_system_admin:
        return REPOSITORY_ACTIONS
    for role in roles_in_project(principal.user, project):
        actions |= ROLE_ACTIONS[role]
    return frozenset(actions)


def roles_in_project(user: User, project: Project) -> set[str]:
    """The roles `user` holds in `project`: their own membership's and those of their directory
    groups. The one place roles are read, so a group's role counts wherever a member's does."""
    own = Membership.objects.filter(project=project, user=user).values_list("role", flat=True)
    through_groups = GroupMembership.objects.filter(project=project, group__user=user).values_list("role", flat=True)
    return set(own.union(through_groups))


def _robot_actions(robot: RobotAccount) -> set[str]:
    grants = ((PULL, robot.can_pull), (PUSH, robot.can_push), (DELETE, robot.can_delete))
    return {action for action, granted in grants if granted}


def can_manage_project(principal: Principal, project: Project) -> bool:
    """Project admins and system admins manage members and robot accounts."""
    if principal.is_system_admin:
        return True
    if principal.user is None:
        return False
    return Role.ADMIN in roles_in_project(principal.user, project)


def can_see_members(principal: Principal, project: Project) -> bool:
    """Members of a project (any role) and system admins see who else belongs to it."""
    if principal.is_system_admin:
        return True
    if principal.user is None:
        return False
    return bool(roles_in_project(principal.user, project))
