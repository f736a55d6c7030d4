import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """Step 1 of 3: the project foreign key, nullable until 0006 fills it."""

    dependencies = [
        ("accounts", "0002_project_quota_bytes"),
        ("v2api", "0004_project_usage_snapshot"),
    ]

    operations = [
        migrations.AddField(
            model_name="repository",
            name="project",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="repositories",
                to="accounts.project",
            ),
        ),
    ]
