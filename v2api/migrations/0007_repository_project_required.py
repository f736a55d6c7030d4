import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """Step 3 of 3: every repository has its project (0006), so the key is required and the
    `namespace` string it replaces goes."""

    dependencies = [
        ("v2api", "0006_fill_repository_project"),
    ]

    operations = [
        migrations.AlterField(
            model_name="repository",
            name="project",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="repositories",
                to="accounts.project",
            ),
        ),
        migrations.RemoveField(
            model_name="repository",
            name="namespace",
        ),
    ]
