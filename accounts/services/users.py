"""User administration for system administrators: create, deactivate, reset a password, make
admin. An administrator cannot lock themselves out: no deactivating or demoting oneself."""

from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.models import DirectoryDeactivation
from accounts.services.credentials import end_credential_versions
from audit import actions
from audit.recorder import record


def create_user(username: str, password: str, *, email: str = "", is_admin: bool = False) -> User:
    """Raises ValidationError naming the field: a taken username, a password the validators refuse."""
    if User.objects.filter(username=username).exists():
        raise ValidationError({"username": f"There is already a user named {username}."})
    _check_password(password, User(username=username, email=email))
    try:
        with transaction.atomic():
            user = User.objects.create_user(
                username=username, email=email, password=password, is_superuser=is_admin, is_staff=is_admin
            )
            record(actions.USER_CREATE, resource=username, detail={"admin": is_admin})
            return user
    except IntegrityError:
        raise ValidationError({"username": f"There is already a user named {username}."}) from None


def set_user_active(acting: User, user: User, active: bool) -> None:
    """A deactivated user can no longer log in, with a password, a token or a session, and the
    refresh tokens issued before stay refused if the account is activated again. Either way the
    administrator's word is the one that holds: a person the directory re-check deactivated is no
    longer activated again by the directory (accounts/services/directory_deactivations.py)."""
    if not active and acting.pk == user.pk:
        raise ValidationError("You cannot deactivate your own account.")
    with transaction.atomic():
        user.is_active = active
        user.save(update_fields=["is_active"])
        DirectoryDeactivation.objects.filter(user=user).delete()
        if not active:
            end_credential_versions(user)
        record(actions.USER_ACTIVATE if active else actions.USER_DEACTIVATE, resource=user.get_username())


def set_user_admin(acting: User, user: User, admin: bool) -> None:
    if not admin and acting.pk == user.pk:
        raise ValidationError("You cannot take away your own administrator rights.")
    user.is_superuser = admin
    user.is_staff = admin
    with transaction.atomic():
        user.save(update_fields=["is_superuser", "is_staff"])
        record(actions.USER_ADMIN_GRANT if admin else actions.USER_ADMIN_REVOKE, resource=user.get_username())


def reset_password(user: User, password: str) -> None:
    """Set a new password; it also ends the user's dashboard sessions (their session hash changes)
    and refresh tokens (their credential version changes)."""
    _check_password(password, user)
    user.set_password(password)
    with transaction.atomic():
        user.save(update_fields=["password"])
        record(actions.USER_PASSWORD_RESET, resource=user.get_username())


def _check_password(password: str, user: User) -> None:
    try:
        validate_password(password, user=user)
    except ValidationError as error:
        raise ValidationError({"password": list(error.messages)}) from None
