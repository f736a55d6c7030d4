from django.apps import AppConfig


class V2ApiConfig(AppConfig):
    name = "v2api"
    verbose_name = "OCI distribution API"
