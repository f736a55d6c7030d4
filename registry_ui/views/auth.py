"""Logging in and out of the dashboard, and changing one's own password."""

import logging
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm
from django.contrib.auth.views import LoginView, LogoutView
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render, resolve_url
from django.views.decorators.debug import sensitive_post_parameters
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from accounts.single_sign_on_provider import ProviderUnavailable, endpoint
from registry_ui.forms import LoginForm

logger = logging.getLogger("accounts.login")


class DashboardLoginView(LoginView):
    """Django's login view (it keeps session fixation, redirect safety and CSRF right), offering
    single sign-on too when it is configured."""

    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        if settings.REGISTRY_SINGLE_SIGN_ON:
            context["single_sign_on"] = settings.REGISTRY_OIDC_PROVIDER_NAME
            # mozilla-django-oidc's LOGIN_REDIRECT_URL_FAILURE (registry_ui/directory_settings.py).
            context["single_sign_on_failed"] = self.request.GET.get("single-sign-on") == "failed"
        return context


class SingleSignOnCallbackView(OIDCAuthenticationCallbackView):
    """mozilla-django-oidc's callback, whose refusals (a state this session did not start, say a
    second tab's or a replayed one) end on the login page with its message, not Django's bare 400."""

    def get(self, request: HttpRequest) -> HttpResponse:
        try:
            response: HttpResponse = super().get(request)
        except SuspiciousOperation as error:
            logger.warning("single sign-on refused: %s", error)
            return self.login_failure()  # type: ignore[no-any-return]
        return response


class SingleSignOnStartView(OIDCAuthenticationRequestView):
    """mozilla-django-oidc's start of the flow, at the authorization endpoint set or discovered;
    a provider whose discovery document cannot be had ends on the login page with a message."""

    def get(self, request: HttpRequest) -> HttpResponse:
        try:
            self.OIDC_OP_AUTH_ENDPOINT = endpoint("OIDC_OP_AUTHORIZATION_ENDPOINT")
        except ProviderUnavailable:
            messages.error(request, "The single sign-on provider is not answering; try again later.")
            return redirect(self.get_settings("LOGIN_REDIRECT_URL_FAILURE"))
        response: HttpResponse = super().get(request)
        return response


class DashboardLogoutView(LogoutView):
    """Django's logout; after a single sign-on, the person is sent on to the provider's
    end_session_endpoint (OpenID Connect RP-Initiated Logout 1.0) to end their session there
    too, and the provider sends them back to the login page."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        id_token = request.session.get("oidc_id_token")
        response: HttpResponse = super().post(request, *args, **kwargs)
        if not (id_token and getattr(settings, "REGISTRY_OIDC_PROVIDER_LOGOUT", False)):
            return response
        try:
            end_session = endpoint("REGISTRY_OIDC_END_SESSION_ENDPOINT")
        except ProviderUnavailable:
            # Logged out here all the same; the provider's session ends on its own.
            return response
        if not end_session:
            return response
        query = {
            "id_token_hint": id_token,
            "client_id": getattr(settings, "OIDC_RP_CLIENT_ID", ""),
            "post_logout_redirect_uri": request.build_absolute_uri(resolve_url(settings.LOGOUT_REDIRECT_URL)),
        }
        separator = "&" if "?" in end_session else "?"
        return HttpResponseRedirect(f"{end_session}{separator}{urlencode(query)}")


login = DashboardLoginView.as_view()
single_sign_on_start = SingleSignOnStartView.as_view()
single_sign_on_callback = SingleSignOnCallbackView.as_view()
logout = DashboardLogoutView.as_view()


@sensitive_post_parameters()
@login_required
def change_password(request: HttpRequest) -> HttpResponse:
    """`/account/password/`: the signed-in user sets a new password, knowing the old one."""
    form = PasswordChangeForm(request.user, request.POST or None)  # type: ignore[arg-type]
    if request.method == "POST" and form.is_valid():
        user = form.save()
        # Keep this session signed in; the user's other sessions end with the old password.
        update_session_auth_hash(request, user)
        messages.success(request, "Your password has been changed.")
        return redirect("ui:home")
    return render(request, "accounts/change_password.html", {"form": form})
