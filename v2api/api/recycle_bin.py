"""`/api/v1/projects/<name>/recycle-bin/`: deleted tags and images a project can still bring back.

Members list what is in the bin; those who may delete in the project (maintainers, admins,
system administrators, robots with the delete action) restore a deletion or delete it
permanently, through the services the dashboard uses (v2api/services/recycle_bin.py).
"""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.base import PROJECT_NAME, Conflict, ProjectScopedView
from accounts.permissions import allowed_actions, can_see_members
from accounts.scopes import DELETE
from v2api.models import RecycledDeletion
from v2api.services.recycle_bin import (
    RecycledItem,
    RestoreConflict,
    Restored,
    delete_permanently,
    recycled_items,
    restore,
)

DELETION_ID = OpenApiParameter("deletion_id", int, OpenApiParameter.PATH, description="The deletion's id in the bin.")
NOT_IN_THE_BIN = "Project {project} has no deletion {deletion_id} in its recycle bin (restored, deleted or expired)."


class RecycledDeletionSerializer(serializers.Serializer[RecycledItem]):
    """One deletion in the bin: restoring it brings back every tag and image it removed."""

    id = serializers.IntegerField(source="deletion.id")
    repository = serializers.CharField(source="deletion.repository_name")
    action = serializers.CharField(
        source="deletion.action",
        help_text="How it was deleted: `tag.delete`, `image.delete`, `repository.delete`, or `gc.untagged` "
        "(an untagged image the garbage collection deleted; restored untagged).",
    )
    tags = serializers.DictField(
        source="deletion.tags", child=serializers.CharField(), help_text="Each deleted tag and the digest it was on."
    )
    manifests = serializers.ListField(child=serializers.CharField(), help_text="Digests of the images deleted.")
    deleted_at = serializers.DateTimeField(source="deletion.deleted_at")
    expires_at = serializers.DateTimeField(
        source="deletion.expires_at", help_text="Restorable until then; the collection after it frees its bytes."
    )
    bytes_to_free = serializers.IntegerField(help_text="What deleting it permanently lets the next collection free.")


class RestoredSerializer(serializers.Serializer[Restored]):
    repository = serializers.CharField()
    tags = serializers.DictField(child=serializers.CharField(), help_text="Each tag put back and its digest.")
    manifests = serializers.ListField(child=serializers.CharField(), help_text="Digests of the images stored again.")


class RecycleBinView(ProjectScopedView):
    """`GET /api/v1/projects/<name>/recycle-bin/`: the project's members list its bin, newest first."""

    serializer_class = RecycledDeletionSerializer

    @extend_schema(parameters=[PROJECT_NAME], responses={200: RecycledDeletionSerializer(many=True)})
    def get(self, request: Request, project_name: str) -> Response:
        if not can_see_members(self.principal, self.project):
            self.deny(f"Only members of project {self.project.name} may see its recycle bin.")
        return Response(self.get_serializer(recycled_items(self.project), many=True).data)


class RecycledDeletionView(ProjectScopedView):
    """`DELETE /api/v1/projects/<name>/recycle-bin/<id>/`: delete permanently; the next collection frees its bytes."""

    serializer_class = RecycledDeletionSerializer

    @extend_schema(parameters=[PROJECT_NAME, DELETION_ID], responses={204: None})
    def delete(self, request: Request, project_name: str, deletion_id: int) -> Response:
        self.require_delete(deletion_id)
        if not delete_permanently(self.project, deletion_id):
            raise NotFound(NOT_IN_THE_BIN.format(project=self.project.name, deletion_id=deletion_id))
        return Response(status=status.HTTP_204_NO_CONTENT)

    def require_delete(self, deletion_id: int) -> None:
        """The delete action in the deletion's repository, as deleting it took."""
        repository = (
            RecycledDeletion.objects.filter(project=self.project, id=deletion_id)
            .values_list("repository_name", flat=True)
            .first()
        )
        name = repository or f"{self.project.name}/"
        if DELETE not in allowed_actions(self.principal, name):
            self.deny(f"You may not restore or delete in {self.project.name}'s recycle bin.")


class RestoreView(RecycledDeletionView):
    """`POST /api/v1/projects/<name>/recycle-bin/<id>/restore/`: bring back the same tags on the same digests."""

    @extend_schema(
        parameters=[PROJECT_NAME, DELETION_ID],
        request=None,
        responses={
            200: RestoredSerializer,
            404: OpenApiResponse(description="Not in the bin: restored, deleted permanently or expired."),
            409: OpenApiResponse(
                description="A tag now points to another image (or is immutable there), or the project's quota "
                "has no room for the bytes the restore brings back."
            ),
        },
    )
    def post(self, request: Request, project_name: str, deletion_id: int) -> Response:
        self.require_delete(deletion_id)
        try:
            restored = restore(self.project, deletion_id)
        except RecycledDeletion.DoesNotExist:
            raise NotFound(NOT_IN_THE_BIN.format(project=self.project.name, deletion_id=deletion_id)) from None
        except RestoreConflict as conflict:
            raise Conflict(str(conflict)) from None
        return Response(RestoredSerializer(restored).data)
