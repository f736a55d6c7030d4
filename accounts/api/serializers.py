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
        is_admin = validated_data.pop("is_superuser", False)
        return User.objects.create_user(
            username=validated_data["username"],
            email=validated_data.get("email", ""),
            password=validated_data["password"],
            is_superuser=is_admin,
            is_staff=is_admin,
        )


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
        password = validated_data.pop("password", None)
        if "is_superuser" in validated_data:
            validated_data["is_staff"] = validated_data["is_superuser"]
        active = validated_data.pop("is_active", None)
        for field, value in validated_data.items():
            setattr(instance, field, value)
        if password is not None:
            # A new password also ends the user's dashboard sessions (their session hash changes)
            # and refresh tokens (their credential version changes).
            instance.set_password(password)
        instance.save()
        if active is not None:
            acting = principal_of(self.context["request"]).user
            assert acting is not None  # only system administrators, who are users, change users
            _api_error(lambda: users.set_user_active(acting, instance, active))
        return instance


class ProjectSerializer(serializers.ModelSerializer[Project]):
    name = serializers.CharField(
        max_length=255,
        validators=[UniqueValidator(Project.objects.all(), message="A project with this name already exists.")],
        help_text="The first component of its repositories' names: `team-a` holds `team-a/api/server`.",
    )

    class Meta:
        model = Project
        fields = ["name", "public", "quota_bytes", "created_at"]
        read_only_fields = ["created_at"]
        extra_kwargs = {
            "quota_bytes": {
                "min_value": 1,
                "help_text": "Storage quota in bytes, enforced on push (a layer shared inside the project "
                "counts once); null: unlimited. Only system administrators set it.",
            }
        }

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


class ProjectUpdateSerializer(ProjectSerializer):
    """Only `public` and `quota_bytes` change; a rename would move every repository of the project."""

    # Declared fields ignore Meta.read_only_fields, so `name` is declared again, read-only.
    name = serializers.CharField(read_only=True)

    def update(self, instance: Project, validated_data: dict[str, Any]) -> Project:
        if "public" in validated_data:
            projects.set_project_public(instance, validated_data["public"])
        if "quota_bytes" in validated_data:
            _api_error(lambda: projects.set_project_quota(instance, validated_data["quota_bytes"]))
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


class MemberUpdateSerializer(MemberSerializer):
    """Only the role changes; the member stays who they are."""

    username = serializers.CharField(source="user.username", read_only=True)  # type: ignore[assignment]


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
