"""Every system check id this package emits, named after what it guards.

The ids are public (docs/checks.md; projects silence them by id), so a number is
never reused. Each id is declared with what it means, one line, which the
documentation's checks reference is generated from (``DOCS``; ``docs/_ext/``).
``tests/test_checks.py`` asserts that these constants are exactly the ids the
package can emit and the ids the reference lists.
"""

from __future__ import annotations

from dataclasses import dataclass

_P = "django_redis_sessions."


@dataclass(frozen=True)
class CheckDoc:
    """One id as the documentation lists it."""

    id: str
    #: What the check reports, one line of Markdown.
    problem: str
    #: Reported by ``manage.py check --deploy`` only.
    deploy: bool = False

    @property
    def level(self) -> str:
        """``"Error"`` or ``"Warning"``, from the id's letter."""
        return "Error" if self.id[len(_P)] == "E" else "Warning"


#: Every id with what it means, in declaration order.
DOCS: dict[str, CheckDoc] = {}


def _id(number: str, problem: str, *, deploy: bool = False) -> str:
    """Declare the id ``django_redis_sessions.<number>``: the constant's value."""
    check_id = _P + number
    if check_id in DOCS:
        raise ValueError(f"check id {check_id} declared twice")
    DOCS[check_id] = CheckDoc(check_id, problem, deploy)
    return check_id


# -- installation (installation.py) -----------------------------------------------------
#: Raised by ``backend.py`` as ``ImproperlyConfigured``, not a check: without the app
#: in INSTALLED_APPS its checks are never registered.
APP_NOT_INSTALLED = _id(
    "E010",
    "the engine is used but the app is not in `INSTALLED_APPS` (raised as "
    "`ImproperlyConfigured` when the session middleware loads, since the app's checks "
    "cannot run without the app)",
)
APP_BELOW_DJANGO_SESSIONS = _id(
    "W012",
    "`django_redis_sessions` is listed below `django.contrib.sessions` in `INSTALLED_APPS`, "
    "so `manage.py clearsessions` runs Django's own command (which prunes silently)",
)
ACTIVITY_MIDDLEWARE_ORDER = _id(
    "E017",
    "`SessionActivityMiddleware` is listed before `SessionMiddleware` (Django's, or "
    "`middleware.HeaderSessionMiddleware`), or without it",
)
SESSION_HEADER_INVALID = _id(
    "E024",
    "`SESSIONS_HEADER_NAME` is not a `request.META` key (a header name as clients send it, "
    '`"X-Session-Id"`, gets a message that says the key to write: `"HTTP_X_SESSION_ID"`), '
    "names a header with a meaning of its own, is the CSRF or IP header, or is set while "
    "`middleware.HeaderSessionMiddleware` is not in `MIDDLEWARE` (the header would be "
    "ignored) or sits beside Django's `SessionMiddleware`",
)

# -- the settings' names (names.py) -----------------------------------------------------
RENAMED_SETTING = _id(
    "E039",
    "a setting is set under its name from before 0.1.0 (listed in [Migrating from earlier "
    "names](settings.md#migrating-from-earlier-names)): the message names the new name "
    "and, where the value's form changed, what to write",
)
UNKNOWN_SETTING = _id(
    "W013",
    "a setting whose name starts with `SESSIONS_` or `SESSION_REDIS_` is none of this "
    "app's (a typo): it has no effect. The hint says which setting it likely meant",
)
REMOVED_PASSWORD_VALIDATOR = _id(
    "E040",
    "`AUTH_PASSWORD_VALIDATORS` still lists the password validator that signed other "
    "sessions out before 0.1.0 (Django would fail to import it); a `post_save` receiver "
    "does that now, `SESSIONS_REVOKE_ON_PASSWORD_CHANGE`",
)

# -- where the sessions are and how we reach them (connection.py) -----------------------
URL_INVALID = _id(
    "E001",
    "`SESSION_REDIS_URL` is not a `redis://`, `rediss://` or `unix://` URL",
)
PREFIX_INVALID = _id(
    "E002",
    "`SESSION_REDIS_PREFIX` empty, not a string, or has whitespace",
)
PREFIX_BRACE = _id(
    "W005",
    "`SESSION_REDIS_PREFIX` contains a brace",
)
TIMEOUT_INVALID = _id(
    "E004",
    "a timeout is not a positive number",
)
TIMEOUT_NONE = _id(
    "W003",
    "a timeout is `None` (waits for ever)",
)
RETRIES_INVALID = _id(
    "E005",
    "`SESSION_REDIS_RETRIES` not a whole number ≥ 0",
)
RETRY_WINDOW_INVALID = _id(
    "E038",
    "`SESSION_REDIS_RETRY_WINDOW` is not `None` or a number of seconds from 0 to 120",
)
CONNECTION_KWARGS_INVALID = _id(
    "E006",
    "`SESSION_REDIS_CONNECTION_KWARGS` not a dict",
)
CACHE_ALIAS_INVALID = _id(
    "E007",
    "`SESSION_REDIS_CACHE_ALIAS` unknown, not django-redis, or django-redis missing",
)
CLIENT_FACTORY_INVALID = _id(
    "E019",
    "`SESSION_REDIS_CLIENT_FACTORY` cannot be imported, or is not callable",
)
ON_OUTAGE_INVALID = _id(
    "E033",
    '`SESSION_REDIS_ON_OUTAGE` not `"raise"` or `"degrade"`',
)
SENTINEL_INVALID = _id(
    "E031",
    "`SESSION_REDIS_SENTINELS` is not a non-empty list of `(host, port)` pairs, "
    "`SESSION_REDIS_SENTINEL_MASTER` is missing or empty, or "
    "`SESSION_REDIS_SENTINEL_KWARGS` is not a dict",
)
SENTINEL_AMBIGUOUS = _id(
    "E032",
    "`SESSION_REDIS_SENTINELS` is set together with `SESSION_REDIS_CACHE_ALIAS` or "
    "`SESSION_REDIS_CLIENT_FACTORY`",
)
CLUSTER_NOT_BOOLEAN = _id(
    "E034",
    "`SESSION_REDIS_CLUSTER` not `True` or `False`",
)
CLUSTER_AMBIGUOUS = _id(
    "E035",
    "`SESSION_REDIS_CLUSTER` is set together with `SESSION_REDIS_SENTINELS`, "
    "`SESSION_REDIS_CACHE_ALIAS` or `SESSION_REDIS_CLIENT_FACTORY`",
)
CLUSTER_PREFIX_BRACE = _id(
    "E036",
    "`SESSION_REDIS_CLUSTER` is on and `SESSION_REDIS_PREFIX` holds a brace (a hash tag "
    "would put every session in one slot)",
)
CLUSTER_DATABASE = _id(
    "E037",
    "`SESSION_REDIS_CLUSTER` is on and `SESSION_REDIS_URL` names a database other than 0 (a "
    "cluster has only database 0), or is a `unix://` socket (a cluster is reached over TCP)",
)

# -- lifetime and size (expiry.py) -------------------------------------------------------
ABSOLUTE_AGE_INVALID = _id(
    "E003",
    "`SESSIONS_ABSOLUTE_AGE` not a positive integer or `None`",
)
COOKIE_AGE_INVALID = _id(
    "E008",
    "`SESSION_COOKIE_AGE` (the idle timeout) not a positive integer",
)
ABSOLUTE_SHORTER_THAN_IDLE = _id(
    "W002",
    "absolute lifetime shorter than the idle timeout",
)
MAX_SIZE_INVALID = _id(
    "E018",
    "`SESSION_REDIS_MAX_SIZE` not a positive whole number of bytes or `None`",
)

# -- request metadata (metadata.py) ------------------------------------------------------
FLAG_NOT_BOOLEAN = _id(
    "E011",
    "`SESSIONS_RECORD_IP`, `_RECORD_USER_AGENT`, `_TRUNCATE_IP` or `_ADMIN_SHOW_DATA` "
    "is not `True`/`False`",
)
IP_HEADER_INVALID = _id(
    "E012",
    '`SESSIONS_IP_HEADER_NAME` is not a `request.META` key (`"HTTP_X_FORWARDED_FOR"`, '
    'not `"X-Forwarded-For"`: the message says the key to write), or is RFC 7239\'s '
    "`HTTP_FORWARDED`, whose syntax is not parsed",
)
PROXY_COUNT_INVALID = _id(
    "E013",
    "`SESSIONS_PROXY_COUNT` not a whole number ≥ 1",
)
USER_AGENT_MAX_LENGTH_INVALID = _id(
    "E014",
    "`SESSIONS_USER_AGENT_MAX_LENGTH` not a whole number from 1 to 4096",
)

# -- binding, rotation, limits (binding.py) ----------------------------------------------
USER_AGENT_CHANGE_INVALID = _id(
    "E015",
    '`SESSIONS_USER_AGENT_CHANGE` not `"ignore"`, `"flag"` or `"end"` (`None`, its old '
    'way of saying `"ignore"`, gets a message that says to write `"ignore"`)',
)
USER_AGENT_CHANGE_UNRECORDED = _id(
    "W006",
    '`SESSIONS_USER_AGENT_CHANGE` is not `"ignore"` but user agents are not recorded '
    "(no middleware, or recording off), so it never applies",
)
IP_CHANGE_INVALID = _id(
    "E027",
    '`SESSIONS_IP_CHANGE` not `"ignore"`, `"flag"` or `"end"` (`None` gets a message '
    'that says to write `"ignore"`)',
)
IP_CHANGE_UNRECORDED = _id(
    "W011",
    '`SESSIONS_IP_CHANGE` is not `"ignore"` but IP addresses are not recorded (no '
    "middleware, or recording off), so it never applies",
)
IP_PREFIX_INVALID = _id(
    "E028",
    "`SESSIONS_IP_PREFIX_V4` not 0 to 32, or `SESSIONS_IP_PREFIX_V6` not 0 to 128",
)
ROTATE_AFTER_INVALID = _id(
    "E029",
    "`SESSIONS_ROTATE_AFTER` not a positive whole number of seconds or `None`",
)
ROTATE_GRACE_INVALID = _id(
    "E030",
    "`SESSIONS_ROTATE_GRACE` not a number of seconds from 0 to 3600",
)
MAX_SESSIONS_INVALID = _id(
    "E025",
    "`SESSIONS_MAX_PER_USER` not a whole number ≥ 1 or `None`",
)
LIMIT_ACTION_INVALID = _id(
    "E026",
    '`SESSIONS_LIMIT_ACTION` not `"end_oldest"` or `"refuse"`',
)

# -- what is stored, and how (serializer.py, encryption.py) ------------------------------
SERIALIZER_UNIMPORTABLE = _id(
    "E009",
    "`SESSION_SERIALIZER` cannot be imported",
)
PICKLE_SERIALIZER = _id(
    "W001",
    "`SESSION_SERIALIZER` uses pickle",
)
ENCRYPTION_KEYS_INVALID = _id(
    "E020",
    "`SESSION_REDIS_ENCRYPTION_KEYS` is not `None` or a non-empty list of Fernet keys (a "
    "bad entry is named by its position, never printed)",
)
ENCRYPTION_UNAVAILABLE = _id(
    "E021",
    "`SESSION_REDIS_ENCRYPTION_KEYS` is set but `cryptography` is not installed (`pip "
    'install "django-redis-sessionstore[encryption]"`)',
)

# -- audit trail (audit.py) --------------------------------------------------------------
AUDIT_NOT_BOOLEAN = _id(
    "E022",
    "`SESSIONS_AUDIT` is not `True`/`False`",
)
AUDIT_LIMIT_INVALID = _id(
    "E023",
    "`SESSIONS_AUDIT_MAX_EVENTS` or `SESSIONS_AUDIT_RETENTION` is not a positive whole number",
)

# -- pages (pages.py) --------------------------------------------------------------------
BASE_TEMPLATE_INVALID = _id(
    "E016",
    "`SESSIONS_BASE_TEMPLATE` not a template name",
)

# -- check --deploy (deploy.py) ----------------------------------------------------------
COOKIE_NOT_SECURE = _id(
    "W007",
    "`SESSION_COOKIE_SECURE` is off: the cookie also travels over plain HTTP",
    deploy=True,
)
COOKIE_NOT_HTTPONLY = _id(
    "W008",
    "`SESSION_COOKIE_HTTPONLY` is off: page scripts can read the cookie",
    deploy=True,
)
COOKIE_SAMESITE = _id(
    "W009",
    '`SESSION_COOKIE_SAMESITE` is not `"Lax"` or `"Strict"`',
    deploy=True,
)
REDIS_WITHOUT_TLS = _id(
    "W010",
    "the Redis URL (ours, or the shared django-redis cache's) names a host other than this "
    "one without TLS (`rediss://`, or `ssl` in `SESSION_REDIS_CONNECTION_KWARGS`); with "
    "Sentinel, a Sentinel on another host while the primary's or the Sentinels' kwargs lack "
    '`"ssl": True`',
    deploy=True,
)

#: Every id above.
ALL: frozenset[str] = frozenset(
    value
    for name, value in dict(globals()).items()
    if name.isupper() and not name.startswith("_") and isinstance(value, str)
)
