from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps


def fill_namespaces(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    repository_model = apps.get_model("v2api", "Repository")
    for repository in repository_model.objects.all().only("id", "name"):
        repository.namespace = repository.name.split("/", 1)[0]
        repository.save(update_fields=["namespace"])


class Migration(migrations.Migration):
    dependencies = [
        ("v2api", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="repository",
            name="namespace",
            field=models.CharField(db_index=True, default="", editable=False, max_length=255),
        ),
        migrations.RunPython(fill_namespaces, migrations.RunPython.noop),
    ]
