"""`/account/tokens/`: a person's personal access tokens, the password for `docker login` and
scripts; for people who log in through single sign-on, which docker cannot follow, the only one."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from accounts.models import PersonalAccessToken
from accounts.services import robots
from registry_ui.forms import AccessTokenForm, apply_errors


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


@login_required
@require_safe
def access_tokens(request: HttpRequest) -> HttpResponse:
    """`/account/tokens/`: the signed-in person's tokens and a form for a new one."""
    return _render_tokens(request, AccessTokenForm())


def _render_tokens(request: HttpRequest, form: AccessTokenForm, status: int = 200) -> HttpResponse:
    tokens = _user(request).access_tokens.order_by("-created_at")
    return render(request, "registry_ui/access_tokens.html", {"tokens": tokens, "form": form}, status=status)


@never_cache
@login_required
@require_POST
def create_access_token(request: HttpRequest) -> HttpResponse:
    """POST `/account/tokens/create/`: the answer shows the secret, this once, never cached."""
    form = AccessTokenForm(request.POST)
    if form.is_valid():
        try:
            created = robots.create_personal_token(_user(request), **form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            return render(
                request, "registry_ui/access_token_created.html", {"token": created.token, "secret": created.secret}
            )
    return _render_tokens(request, form, status=400)


@login_required
@require_POST
def revoke_access_token(request: HttpRequest, token_id: int) -> HttpResponse:
    """POST `/account/tokens/<id>/revoke/`: the token can no longer log in."""
    token = get_object_or_404(PersonalAccessToken, id=token_id, user=_user(request))
    robots.revoke(token)
    messages.success(request, f"Token {token.name} is revoked: it can no longer log in.")
    return redirect("ui:access-tokens")
