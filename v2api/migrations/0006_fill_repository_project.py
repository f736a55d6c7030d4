"""Step 2 of 3: point each repository at the project its name's first component names.

A repository whose project row is missing (its project was deleted under it, or it was pushed
before projects existed) gets the project created, private. Before, such a repository was
reachable only by whoever may create that project: a system administrator, or the user the
project is named after (a personal project). The migration keeps that: the project has no
members, except that user, who becomes its admin as a first push into a personal project makes
them (accounts/services/projects.py ensure_project_for_push).

Reversible: going back fills `namespace` from the project again. The projects this step created
stay: nothing tells them from projects created since, and a project without repositories is
harmless (a system administrator may delete it).

Separate from 0005 and 0007: Postgres refuses to alter a table in the transaction that updated
its rows while the deferred foreign-key checks of those updates are pending.
"""

from collections import defaultdict

from django.conf import settings
from django.db import migrations
from django.db.models import OuterRef, Subquery
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps


def _project_name_of(repository_name: str) -> str:
    # As oci.names.project_name_of says today; written out so this migration keeps doing what it
    # did when it was written.
    return repository_name.split("/", 1)[0]


def fill_projects(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    repository_model = apps.get_model("v2api", "Repository")
    project_model = apps.get_model("accounts", "Project")
    membership_model = apps.get_model("accounts", "Membership")
    user_model = apps.get_model(settings.AUTH_USER_MODEL)

    repository_ids: dict[str, list[int]] = defaultdict(list)
    for repository_id, name in repository_model.objects.filter(project__isnull=True).values_list("id", "name"):
        repository_ids[_project_name_of(name)].append(repository_id)
    if not repository_ids:
        return
    existing = set(project_model.objects.filter(name__in=list(repository_ids)).values_list("name", flat=True))
    missing = sorted(set(repository_ids) - existing)
    project_model.objects.bulk_create([project_model(name=name, public=False) for name in missing])
    projects = dict(project_model.objects.filter(name__in=list(repository_ids)).values_list("name", "id"))
    owners = user_model.objects.filter(username__in=missing)
    membership_model.objects.bulk_create(
        [
            membership_model(project_id=projects[owner.username], user_id=owner.pk, role="admin")
            for owner in owners
        ]
    )
    for project_name, ids in repository_ids.items():
        repository_model.objects.filter(id__in=ids).update(project_id=projects[project_name])


def fill_namespaces(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    repository_model = apps.get_model("v2api", "Repository")
    project_model = apps.get_model("accounts", "Project")
    project_name = project_model.objects.filter(id=OuterRef("project_id")).values("name")[:1]
    repository_model.objects.filter(project__isnull=False).update(namespace=Subquery(project_name))


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_project_quota_bytes"),
        ("v2api", "0005_repository_project"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(fill_projects, fill_namespaces),
    ]
