"""What the management API reads and writes. Rules that belong to a model stay on the model;
these check what a request may ask for and name the field that is wrong."""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework.validators import UniqueValidator

from accounts.api.authentication import principal_of
from accounts.models import GroupMembership, Membership, PersonalAccessToken, Project, RobotAccount, Role
from accounts.services import members, projects, robots, users
from oci.names import InvalidName, check_repository_name


def _api_error(check: Callable[[], Any]) -> Any:
    """Run a service call; its Django ValidationError becomes DRF's, keeping the field messages."""
    try:
        return check()
    except DjangoValidationError as error:
        detail = error.message_dict if hasattr(error, "error_dict") else error.messages
        raise serializers.ValidationError(detail) from None


def _field_error(check: Callable[[], Any]) -> None:
    """Run a one-field service check inside `validate_<field>`: only the messages, not the field name."""
    try:
        check()
    except DjangoValidationError as error:
        raise serializers.ValidationError(error.messages) from None


class UserSerializer(serializers.ModelSerializer[User]):
    """A user as a system admin creates one: username, password, email and whether they are an admin."""

    is_admin = serializers.BooleanField(
        source="is_superuser", default=False, help_text="A system administrator sees and does everything."
    )
    password = serializers.CharField(write_only=True, trim_whitespace=False, style={"input_type": "password"})

    class Meta:
        model = User
        fields = ["id", "username", "email", "is_admin", "is_active", "password", "date_joined", "last_login"]
        read_only_fields = ["id", "is_active", "date_joined", "last_login"]

    def validate_password(self, value: str) -> str:
        candidate = self.instance or User(username=self.initial_data.get("username", ""))
        try:
            validate_password(value, user=candidate)
        except DjangoValidationError as error:
            raise serializers.ValidationError(list(error.messages)) from None
        return value

    def create(self, validated_data: dict[str, Any]) -> User:
        # The same code path as the dashboard's "New user" form, audited there.
        user: User = _api_error(
            lambda: users.create_user(
                validated_data["username"],
                validated_data["password"],
                email=validated_data.get("email", ""),
                is_admin=validated_data.get("is_superuser", False),
            )
        )
        return user


class UserUpdateSerializer(UserSerializer):
    """What a system admin changes on a user: deactivate, reset the password, make admin, email."""

    password = serializers.CharField(
        write_only=True, required=False, trim_whitespace=False, style={"input_type": "password"}
    )

    class Meta(UserSerializer.Meta):
        read_only_fields = ["id", "username", "date_joined", "last_login"]

    def validate_is_active(self, value: bool) -> bool:
        if not value and self._is_caller():
            raise serializers.ValidationError("You cannot deactivate your own account.")
        return value

    def validate_is_admin(self, value: bool) -> bool:
        if not value and self._is_caller():
            raise serializers.ValidationError("You cannot take away your own administrator rights.")
        return value

    def _is_caller(self) -> bool:
        principal = principal_of(self.context["request"])
        return self.instance is not None and principal.user is not None and principal.user.pk == self.instance.pk

    def update(self, instance: User, validated_data: dict[str, Any]) -> User:
        # Through the services the dashboard uses, so each change is checked and audited once.
        acting = principal_of(self.context["request"]).user
        assert acting is not None  # only system administrators, who are users, change users
        if "email" in validated_data:
            instance.email = validated_data["email"]
            instance.save(update_fields=["email"])
        if "password" in validated_data:
            # A new password also ends the user's dashboard sessions (their session hash changes)
            # and refresh tokens (their credential version changes).
            _api_error(lambda: users.reset_password(instance, validated_data["password"]))
        if "is_superuser" in validated_data and validated_data["is_superuser"] != instance.is_superuser:
            _api_error(lambda: users.set_user_admin(acting, instance, validated_data["is_superuser"]))
        if "is_active" in validated_data and validated_data["is_active"] != instance.is_active:
            _api_error(lambda: users.set_user_active(acting, instance, validated_data["is_active"]))
        return instance


class ProjectSerializer(serializers.ModelSerializer[Project]):
    name = serializers.CharField(
        max_length=255,
        validators=[UniqueValidator(Project.objects.all(), message="A project with this name already exists.")],
        help_text="The first component of its repositories' names: `team-a` holds `team-a/api/server`.",
    )

    proxy_password = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        style={"input_type": "password"},
        help_text="The upstream password or token; stored encrypted, never returned.",
    )

    class Meta:
        model = Project
        fields = [
            "name",
            "public",
            "quota_bytes",
            "recycle_seconds",
            "proxy_url",
            "proxy_username",
            "proxy_password",
            "created_at",
        ]
        read_only_fields = ["created_at"]
        extra_kwargs = {
            "quota_bytes": {
                "min_value": 1,
                "help_text": "Storage quota in bytes, enforced on push (a layer shared inside the project "
                "counts once); null: unlimited. Only system administrators set it.",
            },
            "proxy_url": {
                "help_text": "Makes a proxy-cache project: pulls fetch from this upstream v2 registry "
                "(http(s)://host[:port]) on a miss, pushes are refused. Set at creation only.",
            },
            "proxy_username": {"help_text": "The upstream account, if the upstream needs one."},
            "recycle_seconds": {
                "help_text": "How long deleted tags and images stay in the recycle bin, restorable; 0: no bin; "
                "null: the registry's REGISTRY_RECYCLE_SECONDS.",
            },
        }

    def to_representation(self, instance: Project) -> dict[str, Any]:
        shown: dict[str, Any] = super().to_representation(instance)
        # The upstream account is for system administrators, as Harbor's registry endpoints are:
        # anyone reads a public project, and the account name is half of what a guess needs.
        if not principal_of(self.context["request"]).is_system_admin:
            shown.pop("proxy_username", None)
        return shown

    def validate_name(self, value: str) -> str:
        try:
            check_repository_name(value)
        except InvalidName:
            valid = False
        else:
            valid = "/" not in value
        if not valid:
            raise serializers.ValidationError(
                "Use lowercase letters and digits, separated by single '.', '_', '__' or '-'; no '/'."
            )
        return value

    def create(self, validated_data: dict[str, Any]) -> Project:
        project: Project = _api_error(
            lambda: projects.create_project(
                validated_data["name"],
                public=validated_data.get("public", False),
                proxy_url=validated_data.get("proxy_url", ""),
                proxy_username=validated_data.get("proxy_username", ""),
                proxy_password=validated_data.get("proxy_password", ""),
            )
        )
        if validated_data.get("quota_bytes") is not None:
            _api_error(lambda: projects.set_project_quota(project, validated_data["quota_bytes"]))
        return project


class ProjectUpdateSerializer(ProjectSerializer):
    """Only `public`, `quota_bytes` and `recycle_seconds` change; a rename would move every repository
    of the project."""

    # Declared fields ignore Meta.read_only_fields, so `name` is declared again, read-only; the
    # upstream binding too: what the project caches would stop matching it.
    name = serializers.CharField(read_only=True)
    proxy_url = serializers.CharField(read_only=True)
    proxy_username = serializers.CharField(read_only=True)
    proxy_password = None  # type: ignore[assignment]

    class Meta(ProjectSerializer.Meta):
        fields = ["name", "public", "quota_bytes", "recycle_seconds", "proxy_url", "proxy_username", "created_at"]

    def update(self, instance: Project, validated_data: dict[str, Any]) -> Project:
        if "public" in validated_data:
            projects.set_project_public(instance, validated_data["public"])
        if "quota_bytes" in validated_data:
            _api_error(lambda: projects.set_project_quota(instance, validated_data["quota_bytes"]))
        if "recycle_seconds" in validated_data:
            _api_error(lambda: projects.set_project_recycle_window(instance, validated_data["recycle_seconds"]))
        return instance


class MemberSerializer(serializers.ModelSerializer[Membership]):
    username = serializers.SlugRelatedField(
        source="user",
        slug_field="username",
        queryset=User.objects.filter(is_active=True),
        error_messages={"does_not_exist": "There is no active user named {value}."},
    )
    role = serializers.ChoiceField(choices=Role.choices)

    class Meta:
        model = Membership
        fields = ["username", "role"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        project: Project = self.context["project"]
        user = attrs.get("user")
        if self.instance is None and user is not None and project.memberships.filter(user=user).exists():
            raise serializers.ValidationError(
                {"username": f"{user.get_username()} is already a member of {project.name}; change their role instead."}
            )
        return attrs

    def create(self, validated_data: dict[str, Any]) -> Membership:
        membership: Membership = _api_error(
            lambda: members.add_member(
                self.context["project"], validated_data["user"].get_username(), validated_data["role"]
            )
        )
        return membership


class MemberUpdateSerializer(MemberSerializer):
    """Only the role changes; the member stays who they are."""

    username = serializers.CharField(source="user.username", read_only=True)  # type: ignore[assignment]

    def update(self, instance: Membership, validated_data: dict[str, Any]) -> Membership:
        if "role" not in validated_data:
            return instance
        membership: Membership = _api_error(
            lambda: members.change_role(instance.project, instance.user.get_username(), validated_data["role"])
        )
        return membership


class GroupMemberSerializer(serializers.ModelSerializer[GroupMembership]):
    """A directory group in a project: everyone in the group holds its role there."""

    group = serializers.CharField(
        source="group.name", max_length=150, help_text="The group's name (cn) in the company directory."
    )
    role = serializers.ChoiceField(choices=Role.choices)

    class Meta:
        model = GroupMembership
        fields = ["group", "role"]

    def create(self, validated_data: dict[str, Any]) -> GroupMembership:
        # The same code path as the dashboard's "Add a group" form.
        added: GroupMembership = _api_error(
            lambda: members.add_group(self.context["project"], validated_data["group"]["name"], validated_data["role"])
        )
        return added


class GroupMemberUpdateSerializer(GroupMemberSerializer):
    """Only the role changes; the group stays the same."""

    group = serializers.CharField(source="group.name", read_only=True)  # type: ignore[assignment]

    def update(self, instance: GroupMembership, validated_data: dict[str, Any]) -> GroupMembership:
        if "role" not in validated_data:
            return instance
        membership: GroupMembership = _api_error(
            lambda: members.change_group_role(instance.project, instance.group.name, validated_data["role"])
        )
        return membership


def _check_future(value: datetime | None) -> datetime | None:
    _field_error(lambda: robots.check_expiry(value))
    return value


class RobotSerializer(serializers.ModelSerializer[RobotAccount]):
    """A robot account as listed: never its secret, which only its hash on the row could tell."""

    login_name = serializers.CharField(source="username", read_only=True, help_text="`robot$<project>+<name>`")
    is_active = serializers.BooleanField(read_only=True)

    class Meta:
        model = RobotAccount
        fields = [
            "name",
            "login_name",
            "description",
            "can_pull",
            "can_push",
            "can_delete",
            "expires_at",
            "created_at",
            "revoked_at",
            "last_used_at",
            "is_active",
        ]
        read_only_fields = ["created_at", "revoked_at", "last_used_at"]

    def validate_name(self, value: str) -> str:
        _field_error(lambda: robots.check_robot_name(self.context["project"], value))
        return value

    def validate_expires_at(self, value: datetime | None) -> datetime | None:
        return _check_future(value)


class RobotCreatedSerializer(RobotSerializer):
    """A new robot account with its secret, shown this once; only its hash is kept."""

    secret = serializers.SerializerMethodField(help_text="Shown once: store it now; it cannot be shown again.")

    class Meta(RobotSerializer.Meta):
        fields = [*RobotSerializer.Meta.fields, "secret"]

    def create(self, validated_data: dict[str, Any]) -> RobotAccount:
        # The same code path as the dashboard's "New robot account" form.
        created: robots.NewRobot = _api_error(lambda: robots.create_robot(self.context["project"], **validated_data))
        self._secret = created.secret
        return created.robot

    def get_secret(self, robot: RobotAccount) -> str:
        return self._secret


class TokenSerializer(serializers.ModelSerializer[PersonalAccessToken]):
    """A personal access token as listed: never its secret."""

    is_active = serializers.BooleanField(read_only=True)

    class Meta:
        model = PersonalAccessToken
        fields = ["id", "name", "expires_at", "created_at", "revoked_at", "last_used_at", "is_active"]
        read_only_fields = ["id", "created_at", "revoked_at", "last_used_at"]

    def validate_name(self, value: str) -> str:
        _field_error(lambda: robots.check_token_name(self.context["user"], value))
        return value

    def validate_expires_at(self, value: datetime | None) -> datetime | None:
        return _check_future(value)


class TokenCreatedSerializer(TokenSerializer):
    """A new personal access token with its secret, shown this once; only its hash is kept."""

    secret = serializers.SerializerMethodField(
        help_text="Use it as the password, with your username. Shown once: it cannot be shown again."
    )

    class Meta(TokenSerializer.Meta):
        fields = [*TokenSerializer.Meta.fields, "secret"]

    def create(self, validated_data: dict[str, Any]) -> PersonalAccessToken:
        created: robots.NewToken = _api_error(
            lambda: robots.create_personal_token(self.context["user"], **validated_data)
        )
        self._secret = created.secret
        return created.token

    def get_secret(self, token: PersonalAccessToken) -> str:
        return self._secret
