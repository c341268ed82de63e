"""Every system check id this package emits, named after what it guards.

The ids are public (README.md, "System checks"; projects silence them by id), so
a number is never reused. ``tests/test_checks.py`` asserts that these constants
are exactly the ids the package can emit and the ids the README lists.
"""

from __future__ import annotations

_P = "django_redis_sessions."

# -- installation (installation.py) -----------------------------------------------------
#: Raised by ``backend.py`` as ``ImproperlyConfigured``, not a check: without the app
#: in INSTALLED_APPS its checks are never registered.
APP_NOT_INSTALLED = _P + "E010"
APP_BELOW_DJANGO_SESSIONS = _P + "W012"
ACTIVITY_MIDDLEWARE_ORDER = _P + "E017"
SESSION_HEADER_INVALID = _P + "E024"

# -- the settings' names (names.py) -----------------------------------------------------
RENAMED_SETTING = _P + "E039"
UNKNOWN_SETTING = _P + "W013"

# -- where the sessions are and how we reach them (connection.py) -----------------------
URL_INVALID = _P + "E001"
PREFIX_INVALID = _P + "E002"
PREFIX_BRACE = _P + "W005"
TIMEOUT_INVALID = _P + "E004"
TIMEOUT_NONE = _P + "W003"
RETRIES_INVALID = _P + "E005"
RETRY_WINDOW_INVALID = _P + "E038"
CONNECTION_KWARGS_INVALID = _P + "E006"
CACHE_ALIAS_INVALID = _P + "E007"
CLIENT_FACTORY_INVALID = _P + "E019"
ON_OUTAGE_INVALID = _P + "E033"
SENTINEL_INVALID = _P + "E031"
SENTINEL_AMBIGUOUS = _P + "E032"
CLUSTER_NOT_BOOLEAN = _P + "E034"
CLUSTER_AMBIGUOUS = _P + "E035"
CLUSTER_PREFIX_BRACE = _P + "E036"
CLUSTER_DATABASE = _P + "E037"

# -- lifetime and size (expiry.py) -------------------------------------------------------
ABSOLUTE_AGE_INVALID = _P + "E003"
COOKIE_AGE_INVALID = _P + "E008"
ABSOLUTE_SHORTER_THAN_IDLE = _P + "W002"
MAX_SIZE_INVALID = _P + "E018"

# -- request metadata (metadata.py) ------------------------------------------------------
FLAG_NOT_BOOLEAN = _P + "E011"
IP_HEADER_INVALID = _P + "E012"
PROXY_COUNT_INVALID = _P + "E013"
USER_AGENT_MAX_LENGTH_INVALID = _P + "E014"

# -- binding, rotation, limits (binding.py) ----------------------------------------------
USER_AGENT_CHANGE_INVALID = _P + "E015"
USER_AGENT_CHANGE_UNRECORDED = _P + "W006"
IP_CHANGE_INVALID = _P + "E027"
IP_CHANGE_UNRECORDED = _P + "W011"
IP_PREFIX_INVALID = _P + "E028"
ROTATE_AFTER_INVALID = _P + "E029"
ROTATE_GRACE_INVALID = _P + "E030"
MAX_SESSIONS_INVALID = _P + "E025"
LIMIT_ACTION_INVALID = _P + "E026"

# -- what is stored, and how (serializer.py, encryption.py) ------------------------------
SERIALIZER_UNIMPORTABLE = _P + "E009"
PICKLE_SERIALIZER = _P + "W001"
ENCRYPTION_KEYS_INVALID = _P + "E020"
ENCRYPTION_UNAVAILABLE = _P + "E021"

# -- audit trail (audit.py) --------------------------------------------------------------
AUDIT_NOT_BOOLEAN = _P + "E022"
AUDIT_LIMIT_INVALID = _P + "E023"

# -- pages (pages.py) --------------------------------------------------------------------
BASE_TEMPLATE_INVALID = _P + "E016"

# -- check --deploy (deploy.py) ----------------------------------------------------------
COOKIE_NOT_SECURE = _P + "W007"
COOKIE_NOT_HTTPONLY = _P + "W008"
COOKIE_SAMESITE = _P + "W009"
REDIS_WITHOUT_TLS = _P + "W010"

#: Every id above.
ALL: frozenset[str] = frozenset(
    value
    for name, value in dict(globals()).items()
    if name.isupper() and not name.startswith("_") and isinstance(value, str)
)
