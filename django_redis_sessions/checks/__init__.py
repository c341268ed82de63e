"""System checks, split by concern; ids in ``ids.py``; registered in ``apps.py``.

Each module holds the checks of one concern, one function per setting (or per
settings that only mean something together). Every check says nothing unless
``SESSION_ENGINE`` is this app's engine (``base.this_engine_only``). The one
misconfiguration of the engine relative to the app, the engine without the app in
INSTALLED_APPS (``E010``), cannot be a check, since the app's checks only load with
the app: ``backend.py`` raises it.

Checks that guard security (session lifetimes, what is trusted from a request,
what a stolen key can do, what an attacker with Redis access can do, resource
bounds, the cookie and the link to Redis) carry ``Tags.security``, as Django's
and django-cors-headers' do. ``Tags.compatibility`` is kept for what it means in
Django, a setting from an earlier version (E039, a renamed setting).
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
    names,
    pages,
    serializer,
)
from .base import ENGINE, Check

__all__ = ["DEPLOY_CHECKS", "ENGINE", "SETTINGS_CHECKS", "check_deploy", "check_settings"]

#: ``manage.py check``: each check with its tags, in the order they report.
#: ``Tags.security`` where the check guards security (timeouts and lifetime, what
#: is trusted from a request, what a stolen key can do, what Redis may hold and
#: the admin shows, bounds a client could exceed); ``Tags.compatibility`` only for
#: E039 (a name from before 0.1.0); the rest carry Django's tag for what they
#: concern (``caches``, ``templates``) or none: ``manage.py check`` runs them all.
SETTINGS_CHECKS: tuple[tuple[Check, tuple[str, ...]], ...] = (
    (names.check_renamed_settings, (Tags.compatibility, Tags.security)),
    (names.check_unknown_settings, (Tags.security,)),
    (names.check_removed_validator, (Tags.compatibility, Tags.security)),
    (installation.check_app_order, ()),
    (connection.check_url, ()),
    (connection.check_prefix, ()),
    (expiry.check_absolute_age, (Tags.security,)),
    (expiry.check_idle_age, (Tags.security,)),
    (expiry.check_absolute_against_idle, (Tags.security,)),
    (connection.check_timeouts, ()),
    (connection.check_retries, ()),
    (connection.check_retry_window, ()),
    (connection.check_connection_kwargs, ()),
    (connection.check_cache_alias, (Tags.caches,)),
    (serializer.check_serializer, (Tags.security,)),
    (encryption.check_encryption_keys, (Tags.security,)),
    (metadata.check_recording_flags, (Tags.security,)),
    (pages.check_admin_show_data, (Tags.security,)),
    (metadata.check_ip_header, (Tags.security,)),
    (metadata.check_proxy_count, (Tags.security,)),
    (metadata.check_user_agent_max_length, (Tags.security,)),
    (binding.check_user_agent_change, (Tags.security,)),
    (expiry.check_max_size, (Tags.security,)),
    (pages.check_base_template, (Tags.templates,)),
    (installation.check_activity_middleware, (Tags.security,)),
    (installation.check_session_header, (Tags.security,)),
    (binding.check_session_limit, (Tags.security,)),
    (binding.check_session_limit_action, (Tags.security,)),
    (connection.check_on_outage, ()),
    (binding.check_rotate_after, (Tags.security,)),
    (binding.check_rotate_grace, (Tags.security,)),
    (binding.check_ip_change, (Tags.security,)),
    (binding.check_ip_prefixes, (Tags.security,)),
    (audit.check_audit_flag, (Tags.security,)),
    (audit.check_audit_limits, (Tags.security,)),
    (connection.check_client_factory, ()),
    (connection.check_sentinel, ()),
    (connection.check_cluster, ()),
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
