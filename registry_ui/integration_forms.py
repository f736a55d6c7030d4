"""Forms of the pages that connect this registry to other systems: a project's webhooks and the
replication rules (their services, webhooks/ and v2api/services/replication_rules.py, say what is valid)."""

from typing import Any

from django import forms

from webhooks.models import Event, Format


class WebhookForm(forms.Form):
    """A webhook of a project; the service checks the URL (a LAN host without a dot is fine)."""

    url = forms.CharField(
        label="URL", max_length=2048, help_text="Receives a POST per event, e.g. https://ci.example.lan/hooks/registry."
    )
    events = forms.MultipleChoiceField(choices=Event.choices, widget=forms.CheckboxSelectMultiple)
    format = forms.ChoiceField(
        choices=Format.choices,
        initial=Format.HARBOR,
        help_text="Harbor's webhook JSON, or CloudEvents 1.0 (structured, application/cloudevents+json).",
    )
    secret = forms.CharField(
        required=False,
        max_length=1024,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Signs each body: X-Harbor-Signature: sha256=<HMAC-SHA256>. Never shown again.",
    )
    auth_header = forms.CharField(
        label="Authorization header",
        required=False,
        max_length=1024,
        widget=forms.PasswordInput(render_value=False),
        help_text="Sent as Authorization, e.g. Bearer …. Never shown again.",
    )


class WebhookChangeForm(WebhookForm):
    """Changing a webhook: a blank secret or header keeps the one set; the boxes remove them."""

    remove_secret = forms.BooleanField(required=False, label="Remove the secret")
    remove_auth_header = forms.BooleanField(required=False, label="Remove the Authorization header")

    def service_arguments(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "url": data["url"],
            "events": data["events"],
            "format": data["format"],
            "secret": "" if data["remove_secret"] else (data["secret"] or None),
            "auth_header": "" if data["remove_auth_header"] else (data["auth_header"] or None),
        }


class ReplicationRuleForm(forms.Form):
    """A replication rule's settings; what makes them valid is services/replication_rules.py's."""

    name = forms.CharField(max_length=100)
    direction = forms.ChoiceField(
        choices=[
            ("push", "Push: this project's images to the remote"),
            ("pull", "Pull: the remote's into this project"),
        ]
    )
    project = forms.ChoiceField(choices=[], help_text="The project here that is copied from or into.")
    remote_url = forms.CharField(max_length=255, label="Remote registry", help_text="http(s)://host[:port]")
    remote_username = forms.CharField(max_length=255, required=False, label="Remote user (or robot)")
    remote_password = forms.CharField(
        required=False,
        label="Remote password or token",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="Kept encrypted; leave empty to keep the saved one.",
    )
    remove_password = forms.BooleanField(required=False, label="Go without a password")
    remote_namespace = forms.CharField(
        max_length=255, required=False, help_text="The path on the remote below which the repositories live."
    )
    repositories = forms.CharField(max_length=255, initial="**", help_text="Comma-separated globs, ! excludes.")
    tags = forms.CharField(max_length=255, initial="*", help_text="Comma-separated globs, ! excludes.")
    trigger = forms.ChoiceField(
        choices=[("manual", "By hand"), ("schedule", "On a schedule"), ("on_push", "After each push (push rules)")]
    )
    schedule_seconds = forms.IntegerField(
        required=False, min_value=60, label="Every (seconds)", help_text="For the schedule trigger."
    )
    enabled = forms.BooleanField(required=False, initial=True)

    def __init__(self, *args: Any, project_names: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["project"].choices = [(name, name) for name in project_names]  # type: ignore[attr-defined]
