"""The actions the audit log records, one name each, as the filters and exports show them."""

PUSH = "manifest.push"
PULL = "manifest.pull"
TAG_DELETE = "tag.delete"
IMAGE_DELETE = "image.delete"
REPOSITORY_DELETE = "repository.delete"
LOGIN = "login"
LOGIN_FAILED = "login.failed"
# The failed login after which the throttle refuses an address (for one account, or for all) for
# the rest of its window: recorded once per closing, not for each refused attempt after it.
LOGIN_THROTTLED = "login.throttled"
USER_CREATE = "user.create"
USER_DEACTIVATE = "user.deactivate"
USER_ACTIVATE = "user.activate"
USER_ADMIN_GRANT = "user.admin.grant"
USER_ADMIN_REVOKE = "user.admin.revoke"
USER_PASSWORD_RESET = "user.password.reset"
MEMBER_ADD = "member.add"
MEMBER_ROLE_CHANGE = "member.role.change"
MEMBER_REMOVE = "member.remove"
GROUP_ADD = "group.add"
GROUP_ROLE_CHANGE = "group.role.change"
GROUP_REMOVE = "group.remove"
ROBOT_CREATE = "robot.create"
ROBOT_REVOKE = "robot.revoke"
TOKEN_CREATE = "token.create"
TOKEN_REVOKE = "token.revoke"
PROJECT_CREATE = "project.create"
PROJECT_DELETE = "project.delete"
PROJECT_VISIBILITY = "project.visibility"
PROJECT_QUOTA = "project.quota"
PROJECT_UPSTREAM = "project.upstream"
RETENTION_POLICY = "retention.policy"
RETENTION_RULE_ADD = "retention.rule.add"
RETENTION_RULE_DELETE = "retention.rule.delete"
IMMUTABLE_RULE_ADD = "immutable.rule.add"
IMMUTABLE_RULE_DELETE = "immutable.rule.delete"
GC_RUN = "gc.run"
# A push refused by the project's quota or taking it past its warning level, and a retention run
# that deleted tags.
WEBHOOK_ADD = "webhook.add"
WEBHOOK_CHANGE = "webhook.change"
WEBHOOK_REMOVE = "webhook.remove"
REPLICATION_RULE_ADD = "replication.rule.add"
REPLICATION_RULE_CHANGE = "replication.rule.change"
REPLICATION_RULE_REMOVE = "replication.rule.remove"
QUOTA_EXCEEDED = "quota.exceeded"
QUOTA_NEAR = "quota.near"
RETENTION_RUN = "retention.run"
RECYCLE_RESTORE = "recycle.restore"
RECYCLE_DELETE = "recycle.delete"
PROJECT_RECYCLE_WINDOW = "project.recycle_window"

ALL = (
    PUSH,
    PULL,
    TAG_DELETE,
    IMAGE_DELETE,
    REPOSITORY_DELETE,
    LOGIN,
    LOGIN_FAILED,
    LOGIN_THROTTLED,
    USER_CREATE,
    USER_DEACTIVATE,
    USER_ACTIVATE,
    USER_ADMIN_GRANT,
    USER_ADMIN_REVOKE,
    USER_PASSWORD_RESET,
    MEMBER_ADD,
    MEMBER_ROLE_CHANGE,
    MEMBER_REMOVE,
    GROUP_ADD,
    GROUP_ROLE_CHANGE,
    GROUP_REMOVE,
    ROBOT_CREATE,
    ROBOT_REVOKE,
    TOKEN_CREATE,
    TOKEN_REVOKE,
    PROJECT_CREATE,
    PROJECT_DELETE,
    PROJECT_VISIBILITY,
    PROJECT_QUOTA,
    PROJECT_UPSTREAM,
    RETENTION_POLICY,
    RETENTION_RULE_ADD,
    RETENTION_RULE_DELETE,
    IMMUTABLE_RULE_ADD,
    IMMUTABLE_RULE_DELETE,
    GC_RUN,
    WEBHOOK_ADD,
    WEBHOOK_CHANGE,
    WEBHOOK_REMOVE,
    REPLICATION_RULE_ADD,
    REPLICATION_RULE_CHANGE,
    REPLICATION_RULE_REMOVE,
    QUOTA_EXCEEDED,
    QUOTA_NEAR,
    RETENTION_RUN,
    RECYCLE_RESTORE,
    RECYCLE_DELETE,
    PROJECT_RECYCLE_WINDOW,
)
