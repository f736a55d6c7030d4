"""The user's own personal access tokens: create one with an expiry (its secret shown this once),
list them, revoke one. Through accounts/services/robots.py, as `/api/v1/users/me/tokens/` does."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.services import robots
from registry_ui.forms import PersonalTokenForm, apply_errors


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # login_required
    return request.user


def _render(request: HttpRequest, form: PersonalTokenForm, status: int = 200) -> HttpResponse:
    tokens = _user(request).access_tokens.order_by("-created_at", "-id")
    return render(request, "registry_ui/tokens.html", {"tokens": tokens, "form": form}, status=status)


@login_required
def token_list(request: HttpRequest) -> HttpResponse:
    """`/account/tokens/`: the user's tokens and a form for a new one."""
    return _render(request, PersonalTokenForm())


@never_cache
@login_required
@require_POST
def create_token(request: HttpRequest) -> HttpResponse:
    """POST `/account/tokens/create/`: the answer shows the secret, this once, never cached."""
    form = PersonalTokenForm(request.POST)
    if form.is_valid():
        try:
            created = robots.create_personal_token(_user(request), **form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            return render(request, "registry_ui/token_created.html", {"token": created.token, "secret": created.secret})
    return _render(request, form, status=400)


@login_required
@require_POST
def revoke_token(request: HttpRequest, token_id: int) -> HttpResponse:
    """POST `/account/tokens/<id>/revoke/`: the token can no longer log in."""
    token = _user(request).access_tokens.filter(id=token_id).first()
    if token is None:
        messages.error(request, "You have no such token.")
    elif robots.revoke(token):
        messages.success(request, f"Token {token.name} is revoked; it can no longer log in.")
    else:
        messages.info(request, f"Token {token.name} was already revoked.")
    return redirect("ui:tokens")
