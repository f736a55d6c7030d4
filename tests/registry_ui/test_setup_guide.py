"""The instructions page, with this registry's own host name filled in."""

from typing import Any

from django.contrib.auth.models import User
from django.test import Client


def test_the_guide_needs_a_login(client: Client, db: None) -> None:
    assert client.get("/setup/")["Location"].startswith("/login/")


def test_the_guide_names_this_host_for_login_and_insecure_registries(client: Client, carol: User) -> None:
    client.force_login(carol)
    text = client.get("/setup/", HTTP_HOST="registry.lan:5000").content.decode()
    assert "docker login registry.lan:5000 -u carol" in text
    assert '"insecure-registries": ["registry.lan:5000"]' in text
    assert "/etc/docker/certs.d/registry.lan:5000/ca.crt" in text
    assert "/usr/local/share/ca-certificates/registry.lan.crt" in text


def test_behind_https_the_guide_skips_insecure_registries(client: Client, carol: User, settings: Any) -> None:
    settings.REGISTRY_PUBLIC_URL = "https://images.example.lan"
    client.force_login(carol)
    text = client.get("/setup/").content.decode()
    assert "docker login images.example.lan -u carol" in text
    assert "insecure-registries" not in text
