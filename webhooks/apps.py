from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks and registry notifications"

    def ready(self) -> None:
        # The outbox is filled where events are recorded, in their transactions: the audit app
        # sits below this one and cannot call it itself (audit/recorder.py, audit/pulls.py).
        from audit import pulls, recorder
        from webhooks.services.outbox import add_deliveries_for_event, add_deliveries_for_pulls

        if add_deliveries_for_event not in recorder.event_hooks:
            recorder.event_hooks.append(add_deliveries_for_event)
        if add_deliveries_for_pulls not in pulls.batch_hooks:
            pulls.batch_hooks.append(add_deliveries_for_pulls)
