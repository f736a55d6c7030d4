"""The dashboard's forms. They check the shape of what was typed; the rules (who may, what is
taken, what is valid) are the services' and come back as ValidationErrors that `apply_errors`
puts on the right field."""

import re
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from accounts.directory import DirectoryUnavailable
from accounts.models import Project, Role
from accounts.services import login_throttle
from accounts.services.credentials import record_failed_login, record_login
from audit import actions
from oci.request_edge import client_address
from v2api.services.listings import REPOSITORY_SORTS


def apply_errors(form: forms.Form, error: ValidationError) -> None:
    """Put a service's ValidationError on the form: on its field when the form has one, else on top."""
    if hasattr(error, "error_dict"):
        for field, messages in error.message_dict.items():
            form.add_error(field if field in form.fields else None, messages)
    else:
        form.add_error(None, error.messages)


class LoginForm(AuthenticationForm):
    """Django's login form, counted by the same throttle as `docker login` and the API."""

    def __init__(self, request: HttpRequest | None = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(request, *args, **kwargs)
        self.fields["username"].widget.attrs.update({"autocomplete": "username", "autocapitalize": "none"})

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username") or ""
        address = client_address(self.request.META) if self.request is not None else ""
        try:
            login_throttle.check(username, address)
        except login_throttle.LoginThrottled as throttled:
            raise ValidationError(
                f"Too many failed logins. Try again in {throttled.retry_after // 60 or 1} minutes.", code="throttled"
            ) from None
        try:
            cleaned = super().clean()
        except DirectoryUnavailable:
            # Not the person's mistake: not counted, and said so (local accounts still log in).
            raise ValidationError(
                "The company directory is not answering, so directory accounts cannot log in right now "
                "(local accounts can). Try again in a minute.",
                code="directory_unavailable",
            ) from None
        except ValidationError:
            record_failed_login(username, address, channel="dashboard")
            raise
        record_login(username, channel="dashboard")
        return cleaned


class RepositoryFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=255, label="Filter by name")
    sort = forms.ChoiceField(required=False, choices=list(REPOSITORY_SORTS.items()))
    after = forms.CharField(required=False, max_length=600, widget=forms.HiddenInput)

    def value(self, field: str) -> str:
        return str(self.cleaned_data.get(field) or "") if self.is_valid() else ""


class SearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=255, label="Search repositories, tags and digests")


class AddMemberForm(forms.Form):
    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.DEVELOPER)


class AddGroupForm(forms.Form):
    group = forms.CharField(max_length=150, help_text="The group's name (cn) in the company directory.")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.DEVELOPER)


class ChangeRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class RobotForm(forms.Form):
    name = forms.CharField(max_length=64, help_text="Lowercase letters and digits, separated by '.', '_' or '-'.")
    description = forms.CharField(max_length=255, required=False)
    can_pull = forms.BooleanField(required=False, initial=True, label="Pull")
    can_push = forms.BooleanField(required=False, label="Push")
    can_delete = forms.BooleanField(required=False, label="Delete")
    expires_at = forms.DateTimeField(
        required=False,
        label="Expires",
        help_text="Leave empty for a robot that never expires.",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )


class PersonalTokenForm(forms.Form):
    name = forms.CharField(max_length=64, help_text="What it is for, e.g. laptop or ci-nightly.")
    expires_at = forms.DateTimeField(
        required=False,
        label="Expires",
        help_text="Leave empty for a token that never expires.",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )


class CreateUserForm(forms.Form):
    username = forms.CharField(max_length=150)
    email = forms.EmailField(required=False)
    password = forms.CharField(widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}), strip=False)
    is_admin = forms.BooleanField(required=False, label="System administrator")


class ResetPasswordForm(forms.Form):
    password = forms.CharField(
        label="New password", widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}), strip=False
    )


# What the project's column holds (a URLField's 200): a longer URL is a form message, not a 500.
PROXY_URL_MAX_LENGTH = Project._meta.get_field("proxy_url").max_length


class CreateProjectForm(forms.Form):
    name = forms.CharField(max_length=255)
    public = forms.BooleanField(required=False, help_text="Anyone, even without logging in, may pull.")
    proxy_url = forms.CharField(
        required=False,
        max_length=PROXY_URL_MAX_LENGTH,
        label="Upstream registry",
        help_text="Makes it a proxy cache: pulls fetch what it lacks from there (e.g. https://registry-1.docker.io);"
        " it then takes no pushes. Empty: an ordinary project.",
    )
    proxy_username = forms.CharField(required=False, max_length=255, label="Upstream username")
    proxy_password = forms.CharField(
        required=False,
        max_length=4096,
        label="Upstream password or token",
        widget=forms.PasswordInput,
        help_text="Stored encrypted, never shown again.",
    )


class ProxyBindingForm(forms.Form):
    proxy_url = forms.CharField(max_length=PROXY_URL_MAX_LENGTH, label="Upstream registry")
    proxy_username = forms.CharField(required=False, max_length=255, label="Upstream username")
    proxy_password = forms.CharField(
        required=False,
        max_length=4096,
        label="Upstream password or token",
        widget=forms.PasswordInput,
        help_text="Empty keeps the stored one, for the same upstream only.",
    )
    clear_password = forms.BooleanField(required=False, label="Pull without a password")

    def new_password(self) -> str | None:
        """The password to store: None keeps the stored one, empty removes it."""
        if self.cleaned_data["clear_password"]:
            return ""
        return self.cleaned_data["proxy_password"] or None


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(?:i?b)?\s*$", re.IGNORECASE)
_SIZE_FACTORS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5}


def parse_size(text: str) -> int:
    """`10 GiB`, `500M`, `1.5 TiB` or a plain byte count, in powers of 1024 as the dashboard
    shows sizes (binary_size). Raises ValueError for anything else."""
    match = _SIZE.match(text)
    if match is None:
        raise ValueError(text)
    return int(float(match.group(1)) * _SIZE_FACTORS[match.group(2).lower()])


class QuotaForm(forms.Form):
    quota = forms.CharField(
        required=False,
        max_length=32,
        label="Quota",
        help_text="In bytes or with a unit (500 MiB, 10 GiB, 1 TiB); empty: unlimited.",
    )

    def clean_quota(self) -> int | None:
        text = self.cleaned_data["quota"].strip()
        if not text:
            return None
        try:
            return parse_size(text)
        except ValueError:
            raise ValidationError("Write a size such as 500 MiB, 10 GiB or a number of bytes.") from None


class StringListField(forms.Field):
    """Every value of a repeated parameter (`?tag=a&tag=b`), each one short, at most `max_items`."""

    widget = forms.MultipleHiddenInput

    def __init__(self, *, max_length: int, max_items: int = 500, **kwargs: Any) -> None:
        self.max_length, self.max_items = max_length, max_items
        super().__init__(required=False, **kwargs)

    def to_python(self, value: Any) -> list[str]:
        values = [str(item).strip() for item in (value or []) if str(item).strip()]
        if len(values) > self.max_items:
            raise ValidationError(f"Select at most {self.max_items} at once.")
        if any(len(item) > self.max_length for item in values):
            raise ValidationError("A selected name is too long to exist.")
        return list(dict.fromkeys(values))


class DeletionForm(forms.Form):
    """What to delete in one repository: tags only, whole images, or the repository itself."""

    UNTAG, IMAGES, REPOSITORY = "tags", "images", "repository"
    mode = forms.ChoiceField(
        choices=[(UNTAG, "Untag"), (IMAGES, "Delete images"), (REPOSITORY, "Delete the repository")],
        widget=forms.HiddenInput,
    )
    tag = StringListField(max_length=128)
    digest = StringListField(max_length=200)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        mode = cleaned.get("mode")
        if mode == self.UNTAG and not cleaned.get("tag"):
            raise ValidationError("Select at least one tag.")
        if mode == self.IMAGES and not cleaned.get("tag") and not cleaned.get("digest"):
            raise ValidationError("Select at least one image.")
        return cleaned


class GarbageCollectionForm(forms.Form):
    dry_run = forms.BooleanField(
        required=False, initial=True, label="Dry run", help_text="Report what would go, delete nothing."
    )
    grace_minutes = forms.IntegerField(
        required=False,
        min_value=0,
        label="Shorter grace window (minutes)",
        help_text="Leave empty for the configured window.",
    )
    pushes_in_flight_understood = forms.BooleanField(
        required=False,
        label="I understand that a push in flight may lose layers it uploaded within this window",
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        minutes = cleaned.get("grace_minutes")
        configured = settings.REGISTRY_GC_GRACE_SECONDS
        if minutes is not None and minutes * 60 > configured:
            self.add_error("grace_minutes", "Only a shorter window than the configured one can be chosen here.")
        elif minutes is not None and not cleaned.get("pushes_in_flight_understood"):
            self.add_error(
                "pushes_in_flight_understood",
                "A shorter grace window can delete the layers of a push still in progress; confirm to go on.",
            )
        return cleaned

    def grace_seconds(self) -> int:
        """The window the collection runs with: the chosen one, or the configured one."""
        minutes = self.cleaned_data.get("grace_minutes")
        return settings.REGISTRY_GC_GRACE_SECONDS if minutes is None else minutes * 60


class RetentionPolicyForm(forms.Form):
    enabled = forms.BooleanField(required=False, label="Run the rules every day")
    delete_untagged = forms.BooleanField(
        required=False,
        label="Delete untagged images",
        help_text="The garbage collector removes images no tag, index or signature needs.",
    )
    always_keep_tags = forms.CharField(
        required=False,
        max_length=255,
        label="Always keep tags",
        help_text="Comma-separated patterns no rule removes, e.g. v*, release-*.",
    )


class ImmutableTagRuleForm(forms.Form):
    repositories = forms.CharField(
        max_length=255,
        initial="**",
        help_text="Patterns inside the project, comma-separated; ** is all, !name excludes.",
    )
    tags = forms.CharField(max_length=255, help_text="Patterns on tag names, e.g. v*.*.* or release-*.")


class RecycleWindowForm(forms.Form):
    recycle_seconds = forms.IntegerField(
        label="Keep deletions for (seconds)",
        required=False,
        min_value=0,
        # The column's range (a PositiveIntegerField, 68 years): past it the database refused, a 500.
        max_value=2**31 - 1,
        help_text="0: no recycle bin, deleting frees at the next collection; empty: the registry's default.",
    )


class RetentionRuleForm(forms.Form):
    MOST_RECENT, DAYS = "most_recent", "days"
    repositories = forms.CharField(
        max_length=255,
        initial="**",
        help_text="Patterns inside the project, comma-separated; ** is all, !name excludes.",
    )
    tags = forms.CharField(
        max_length=255,
        initial="*",
        help_text="Patterns on tag names, e.g. dev-*, or *,!release-* for all but releases.",
    )
    keep = forms.ChoiceField(
        choices=[(MOST_RECENT, "Keep the most recently pushed"), (DAYS, "Keep those pushed within (days)")]
    )
    count = forms.IntegerField(min_value=0, max_value=100_000, initial=10, label="Number")

    def rule_values(self) -> dict[str, Any]:
        """The cleaned form as add_retention_rule's keyword arguments."""
        data = self.cleaned_data
        most_recent = data["keep"] == self.MOST_RECENT
        return {
            "repositories": data["repositories"],
            "tags": data["tags"],
            "keep_most_recent": data["count"] if most_recent else None,
            "keep_days": None if most_recent else data["count"],
        }


class AuditFilterForm(forms.Form):
    """The Logs page's filters; audit/queries.py reads them (the API takes the same names)."""

    user = forms.CharField(required=False, max_length=512, label="User or robot")
    action = forms.ChoiceField(required=False, choices=[("", "Any action"), *((name, name) for name in actions.ALL)])
    resource = forms.CharField(required=False, max_length=1024, label="Resource contains")
    since = forms.CharField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.CharField(required=False, label="Before", widget=forms.DateInput(attrs={"type": "date"}))
