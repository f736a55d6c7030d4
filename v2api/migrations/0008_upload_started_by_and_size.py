"""Uploads record who opened them and how many bytes they hold, so open uploads count against the
project's quota and a caller's open uploads can be capped.

An upload open before this migration gets its size from its data file; who opened it is not
known, so it counts toward its repository's cap only.
"""

from pathlib import Path

from django.conf import settings
from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

from v2api.storage import paths


def fill_sizes(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    upload_model = apps.get_model("v2api", "Upload")
    for upload in upload_model.objects.all():
        data = paths.upload_data_path(Path(settings.REGISTRY_STORAGE_ROOT), str(upload.id))
        if data.exists():
            upload_model.objects.filter(id=upload.id).update(size=data.stat().st_size)


class Migration(migrations.Migration):
    dependencies = [
        ("v2api", "0007_repository_project_required"),
    ]

    operations = [
        migrations.AddField(
            model_name="upload",
            name="size",
            field=models.BigIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="upload",
            name="started_by",
            field=models.CharField(blank=True, db_index=True, max_length=512),
        ),
        migrations.RunPython(fill_sizes, migrations.RunPython.noop),
    ]
