"""Make sure a system administrator exists, for the embedded run's first start.

REGISTRY_ADMIN_USERNAME (default `admin`) and REGISTRY_ADMIN_PASSWORD set it; without a
password one is generated and printed once. An existing account is left as it is.
"""

import os
import secrets
from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the first system administrator if it does not exist yet."

    def handle(self, *args: Any, **options: Any) -> None:
        username = os.environ.get("REGISTRY_ADMIN_USERNAME", "admin")
        if User.objects.filter(username=username).exists():
            return
        password = os.environ.get("REGISTRY_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, password=password, email="")
        if "REGISTRY_ADMIN_PASSWORD" in os.environ:
            self.stdout.write(f"created administrator {username!r} with the password from REGISTRY_ADMIN_PASSWORD")
        else:
            self.stdout.write(f"created administrator {username!r} with password: {password}")
            self.stdout.write("(shown once; change it after logging in)")
