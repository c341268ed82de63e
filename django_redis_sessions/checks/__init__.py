"""System checks, split by concern; ids in ``ids.py``; registered in ``apps.py``.

Each module holds the checks of one concern, one function per setting (or per
settings that only mean something together). Every check says nothing unless
``SESSION_ENGINE`` is this app's engine (``base.this_engine_only``). The one
misconfiguration of the engine relative to the app, the engine without the app in
INSTALLED_APPS (``E010``), cannot be a check, since the app's checks only load with
the app: ``backend.py`` raises it.

Checks that guard security (what is trusted from a request, what a stolen key can
do, what an attacker with Redis access can do, the cookie and the link to Redis)
carry ``Tags.security``, the others ``Tags.compatibility``, as Django's own do.
"""

from __future__ import annotations

from typing import Any

from django.core import checks
from django.core.checks import CheckMessage, Tags

from . import (
    audit,
    binding,
    connection,
    deploy,
    encryption,
    expiry,
    installation,
    metadata,
    pages,
    serializer,
)
from .base import ENGINE, Check

__all__ = ["DEPLOY_CHECKS", "ENGINE", "SETTINGS_CHECKS", "check_deploy", "check_settings"]

#: ``manage.py check``: each check with its tags, in the order they report.
SETTINGS_CHECKS: tuple[tuple[Check, tuple[str, ...]], ...] = (
    (installation.check_app_order, (Tags.compatibility,)),
    (connection.check_url, (Tags.compatibility,)),
    (connection.check_prefix, (Tags.compatibility,)),
    (expiry.check_absolute_age, (Tags.compatibility,)),
    (expiry.check_idle_age, (Tags.compatibility,)),
    (expiry.check_absolute_against_idle, (Tags.compatibility,)),
    (connection.check_timeouts, (Tags.compatibility,)),
    (connection.check_retries, (Tags.compatibility,)),
    (connection.check_retry_window, (Tags.compatibility,)),
    (connection.check_connection_kwargs, (Tags.compatibility,)),
    (connection.check_cache_alias, (Tags.compatibility,)),
    (serializer.check_serializer, (Tags.security,)),
    (encryption.check_encryption_keys, (Tags.security,)),
    (metadata.check_recording_flags, (Tags.compatibility,)),
    (pages.check_admin_show_data, (Tags.compatibility,)),
    (metadata.check_ip_header, (Tags.security,)),
    (metadata.check_proxy_count, (Tags.security,)),
    (metadata.check_user_agent_max_length, (Tags.compatibility,)),
    (binding.check_user_agent_change, (Tags.security,)),
    (expiry.check_max_size, (Tags.compatibility,)),
    (pages.check_base_template, (Tags.compatibility, Tags.templates)),
    (installation.check_activity_middleware, (Tags.compatibility,)),
    (installation.check_session_header, (Tags.security,)),
    (binding.check_session_limit, (Tags.security,)),
    (binding.check_session_limit_action, (Tags.security,)),
    (connection.check_on_outage, (Tags.compatibility,)),
    (binding.check_rotate_after, (Tags.security,)),
    (binding.check_rotate_grace, (Tags.security,)),
    (binding.check_ip_change, (Tags.security,)),
    (binding.check_ip_prefixes, (Tags.security,)),
    (audit.check_audit_flag, (Tags.security,)),
    (audit.check_audit_limits, (Tags.security,)),
    (connection.check_client_factory, (Tags.compatibility,)),
    (connection.check_sentinel, (Tags.compatibility,)),
    (connection.check_cluster, (Tags.compatibility,)),
)

#: ``manage.py check --deploy`` adds these.
DEPLOY_CHECKS: tuple[tuple[Check, tuple[str, ...]], ...] = (
    (deploy.check_cookie_flags, (Tags.security,)),
    (deploy.check_redis_tls, (Tags.security,)),
)


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Every settings check's messages, in order (for tests and scripts)."""
    return [message for check, _tags in SETTINGS_CHECKS for message in check(app_configs)]


def check_deploy(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Every deploy check's messages, in order (for tests and scripts)."""
    return [message for check, _tags in DEPLOY_CHECKS for message in check(app_configs)]


def register_checks() -> None:
    """Register every check with Django (called by ``AppConfig.ready``)."""
    for check, tags in SETTINGS_CHECKS:
        checks.register(check, *tags)
    for check, tags in DEPLOY_CHECKS:
        checks.register(check, *tags, deploy=True)
