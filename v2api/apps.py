from django.apps import AppConfig


class V2ApiConfig(AppConfig):
    name = "v2api"
    verbose_name = "OCI distribution API"

    def ready(self) -> None:
        # Each batch of audited pulls also moves the "last pulled" of the tags it names, in the
        # batch's transaction: the audit app sits below the registry and cannot call it itself.
        from audit import pulls
        from v2api.services.pull_times import record_last_pulled

        if record_last_pulled not in pulls.batch_hooks:
            pulls.batch_hooks.append(record_last_pulled)
        # A push by tag starts the on-push replication rules that take it.
        from v2api.services import manifests
        from v2api.tasks import replicate_after_push

        if replicate_after_push not in manifests.after_tag_push:
            manifests.after_tag_push.append(replicate_after_push)
