"""The "Sessions" admin: who is signed in, from where, since when; end sessions.

There is no table behind it. The ``RedisSession`` model only gives the admin index
an entry and the app its two permissions (``models.py``); the views read Redis
through the API in ``api.py``, as django-rq's queue pages read Redis rather than
a queryset:

* overview (the changelist URL): totals and the users with live sessions, built
  from the per-user indexes with ``SCAN`` (never ``KEYS``), searchable by
  username or email (the database finds the users; the walk has their rows); a
  search longer than ``SEARCH_MAX_LENGTH`` is refused with a message;
* one user's sessions, a page at a time (most recently active first; one round
  trip a page, ``api.user_sessions_page``): fingerprint, created, last seen,
  idle and absolute expiry, IP, device; revoke the selected ones;
* revoke all of a user's sessions, behind a confirmation page;
* with ``SESSIONS_AUDIT``, the user's recent session events (``policies/audit.py``)
  below their sessions.

Access: the admin's login for anonymous users, 403 without
``view_sessions`` (pages) or ``revoke_sessions`` (changes). Changes are POSTs,
which Django's CSRF middleware guards. Session keys never reach a page: sessions
are named by fingerprint. A user id in a URL that the user model's primary key
cannot hold (not a number, beyond the database's integer, a malformed UUID) is a
404 on every page and POST, before anything is read or revoked.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import wraps
from typing import Any

from django import forms
from django.apps import apps
from django.contrib import admin, messages
from django.contrib.admin.utils import quote, unquote
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.core.paginator import Page, Paginator
from django.db import connections, router
from django.db.models import Field, IntegerField, Model, Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from . import api
from .conf import conf
from .devices import describe_user_agent, shown_device
from .exceptions import AmbiguousFingerprint, SessionStoreError
from .identifiers import user_id_of
from .models import REVOKE_PERMISSION, VIEW_PERMISSION, RedisSession
from .signals import By
from .storage.index_ops import ACTIVITY_READ_CAP
from .storage.plans import UserActivity
from .views import sessions_page

#: Users matched by one search; a search is for finding someone, not for paging
#: through the user table.
SEARCH_LIMIT = 500
#: The longest search the overview runs. The fields it searches fit in it (Django's
#: username holds 150 characters, an email address at most 254), so no search that
#: can match is refused; a longer one never becomes a database query, where a
#: 100 KB ``LIKE`` pattern is an error (SQLite: "LIKE or GLOB pattern too complex").
SEARCH_MAX_LENGTH = 254
#: Audit events shown on a user's page (the log keeps up to
#: SESSIONS_AUDIT_MAX_EVENTS, which may be set far higher).
AUDIT_PAGE_LIMIT = 100
#: Sign-in scores at or below this (unix seconds) mean "not known": clearsessions
#: lists users whose index predates the users index with score 1 ms.
KNOWN_SIGN_IN = 1


@dataclass(frozen=True, slots=True)
class UserRow:
    """One line of the overview."""

    user_id: str
    #: The user's ``quote``-d id, as it appears in the per-user page's URL.
    url_id: str
    label: str
    email: str
    sessions: int
    last_seen: datetime
    #: ``sessions`` is estimated from a sample (a user with more sessions than a
    #: page reads: ``ACTIVITY_READ_CAP``).
    estimated: bool = False
    #: The latest sign-in, from the users index; None when unknown (a user listed
    #: by ``clearsessions`` after an upgrade, or found by a search).
    signed_in_at: datetime | None = None


def _revoked(count: int) -> str:
    return ngettext("%(count)d session revoked.", "%(count)d sessions revoked.", count) % {
        "count": count
    }


def user_label(user: AbstractBaseUser | None, user_id: str) -> str:
    if user is None:
        return _("deleted user (id %(id)s)") % {"id": user_id}
    return _("%(username)s (id %(id)s)") % {"username": user.get_username(), "id": user_id}


def _email_field(model: type[Model]) -> str | None:
    name = model.get_email_field_name()  # type: ignore[attr-defined]
    try:
        model._meta.get_field(name)
    except FieldDoesNotExist:
        return None
    return str(name)


def user_pk(value: str, field: Field[Any, Any] | None = None) -> Any:
    """``value`` (from a URL, a form, an index) as a primary key of the user model.

    Parsed by ``field``, the user model's primary key unless given, as a query
    would prepare it. Raises ``ValueError`` for a value no row can have: one the
    field refuses (``"1e5"`` for an integer, a malformed UUID), an integer out of
    the range of the database's column, a string longer than the column. Such a
    value must not reach the query, where some backends fail on it rather than
    find nothing (SQLite's driver raises ``OverflowError`` beyond 64 bits).
    """
    model = get_user_model()
    if field is None:
        field = model._meta.pk
    error = ValueError(f"The value is not a primary key of {model._meta.label}.")
    try:
        pk = field.to_python(value)
        prepared = field.get_prep_value(pk)
    except (ValidationError, ValueError, TypeError, OverflowError):
        raise error from None
    if prepared is None or prepared == "":
        raise error
    if isinstance(field, IntegerField):
        # The range of the column on the database the user model is read from:
        # to_python() accepts any Python int, the column does not.
        ops = connections[router.db_for_read(model)].ops
        low, high = ops.integer_field_range(field.get_internal_type())
        if (low is not None and prepared < low) or (high is not None and prepared > high):
            raise error
    # Django does not check max_length on a lookup; a longer string is no key (and
    # a 100 KB one would otherwise go on to name Redis keys).
    max_length = field.max_length
    if isinstance(prepared, str) and max_length is not None and len(prepared) > max_length:
        raise error
    return pk


def users_by_id(user_ids: Sequence[str]) -> dict[str, AbstractBaseUser]:
    """The users behind these index ids (a deleted user is simply absent)."""
    model = get_user_model()
    pks = []
    for user_id in user_ids:
        try:
            pks.append(user_pk(user_id))
        except ValueError:
            # An index id that no row of this user model can have (a session saved
            # under another user model, or a forged one): listed as a deleted user.
            continue
    found = model._default_manager.in_bulk(pks)
    return {str(pk): user for pk, user in found.items()}


class SearchForm(forms.Form):
    """The overview's search box, validated as any Django form field would be."""

    q = forms.CharField(required=False, max_length=SEARCH_MAX_LENGTH)


#: The read-only field the mixin adds to a user's change page.
SESSIONS_FIELD = "redis_sessions_link"


def _mentions(fieldsets: Any, field: str) -> bool:
    for _name, options in fieldsets:
        for entry in options.get("fields", ()):
            if entry == field or (isinstance(entry, list | tuple) and field in entry):
                return True
    return False


def sessions_link(user: Any, site_name: str = "admin") -> str:
    """``<a id="user-sessions-link">Sessions (n)</a>`` to ``user``'s sessions page.

    The count is the user's live sessions (one round trip, no record read); when
    Redis cannot be reached the link says so instead of a count, and the user's
    page still renders. ``""`` when the sessions admin is not on the site.
    """
    try:
        url = reverse(
            "admin:django_redis_sessions_redissession_user",
            args=[quote(user_id_of(user))],
            current_app=site_name,
        )
    except NoReverseMatch:
        return ""
    try:
        # limit=0: the count only (Redis reads the headers; no record is sent).
        count = str(api.user_sessions_page(user, limit=0).total)
    except SessionStoreError:
        count = _("unavailable")
    # Translators: the link to a user's sessions; {count} is how many, or "unavailable".
    label = _("Sessions ({count})").format(count=count)
    return format_html('<a href="{}" id="user-sessions-link">{}</a>', url, label)


class UserSessionsAdminMixin(admin.ModelAdmin):  # type: ignore[type-arg]
    """A "Sessions (n)" link on each user's change page, to their sessions.

    For the ``ModelAdmin`` of the user model. It adds a read-only field
    (``redis_sessions_link``) in a "Sessions" fieldset at the end of the change
    page (not the add page), shown to staff with the ``view_sessions``
    permission. It sets no template, so it composes with any
    ``change_form_template`` a project chose. A project that places the field in
    its own ``fieldsets`` (or ``fields``) keeps that place.

    ``AppConfig.ready()`` adds it to whatever ``ModelAdmin`` is registered for the
    user model on ``django.contrib.admin.site`` (:func:`link_user_admin`); add it
    yourself to a user admin on another ``AdminSite``.
    """

    def _shows_sessions(self, request: HttpRequest, obj: Any) -> bool:
        return obj is not None and request.user.has_perm(VIEW_PERMISSION)

    def get_readonly_fields(
        self, request: HttpRequest, obj: Any = None
    ) -> list[str] | tuple[str, ...]:
        fields = super().get_readonly_fields(request, obj)
        if not self._shows_sessions(request, obj) or SESSIONS_FIELD in fields:
            return fields
        return [*fields, SESSIONS_FIELD]

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if not self._shows_sessions(request, obj) or _mentions(fieldsets, SESSIONS_FIELD):
            return fieldsets
        return [*fieldsets, (gettext_lazy("Sessions"), {"fields": [SESSIONS_FIELD]})]

    @admin.display(description=gettext_lazy("Sessions"))
    def redis_sessions_link(self, obj: Any) -> str:
        if obj is None or getattr(obj, "pk", None) is None:
            return ""
        return sessions_link(obj, self.admin_site.name)


def link_user_admin(site: admin.AdminSite | None = None) -> bool:
    """Give the user model's ``ModelAdmin`` on ``site`` the sessions link; whether
    it was added now.

    Re-registers the user model with a subclass of the registered class that adds
    :class:`UserSessionsAdminMixin` (same name, module and templates). Nothing
    happens when the user model is not registered there, or its admin already has
    the mixin. ``AppConfig.ready()`` calls it for ``django.contrib.admin.site``.
    """
    site = admin.site if site is None else site
    model = get_user_model()
    if not site.is_registered(model):
        return False
    registered = type(site.get_model_admin(model))
    if issubclass(registered, UserSessionsAdminMixin):
        return False
    linked = type(
        registered.__name__,
        (UserSessionsAdminMixin, registered),
        {"__module__": registered.__module__, "__doc__": registered.__doc__},
    )
    site.unregister(model)
    site.register(model, linked)
    return True


@admin.register(RedisSession)
class RedisSessionAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_per_page = 50

    # -- permissions -----------------------------------------------------------

    def get_model_perms(self, request: HttpRequest) -> dict[str, bool]:
        """What the admin index offers: "View", never "Add" or "Change".

        There is nothing to add or change (revoking happens on the pages the
        "View" link leads to), so the index shows Django's view-only link even to
        someone who may revoke sessions.
        """
        return {
            "add": False,
            "change": False,
            "delete": False,
            "view": self.has_view_permission(request),
        }

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm(VIEW_PERMISSION)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm(REVOKE_PERMISSION)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def _require(self, request: HttpRequest, permission: str) -> None:
        if not request.user.has_perm(permission):
            raise PermissionDenied

    # -- URLs ------------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        def wrap(view: Any) -> Any:
            return self.admin_site.admin_view(self._store_errors(view))

        name = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("", wrap(self.changelist_view), name=f"{name}_changelist"),
            path("user/<str:user_id>/", wrap(self.user_view), name=f"{name}_user"),
            path(
                "user/<str:user_id>/revoke-all/",
                wrap(self.revoke_all_view),
                name=f"{name}_revoke_all",
            ),
        ]

    def _store_errors(self, view: Any) -> Any:
        """Render a Redis failure as a 503 page that says what failed (no credentials)."""

        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                response: HttpResponse = view(request, *args, **kwargs)
            except SessionStoreError as exc:
                context = self._context(request, _("Session store unavailable"), error=str(exc))
                return TemplateResponse(
                    request, "django_redis_sessions/admin/unavailable.html", context, status=503
                )
            return response

        return wrapper

    def _user_url(self, user_id: str, view: str = "user") -> str:
        name = f"admin:{self.opts.app_label}_{self.opts.model_name}_{view}"
        return reverse(name, args=[quote(user_id)], current_app=self.admin_site.name)

    def _context(self, request: HttpRequest, title: str, **extra: Any) -> dict[str, Any]:
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "has_view_permission": self.has_view_permission(request),
            "has_revoke_permission": self.has_change_permission(request),
            "changelist_url": reverse(
                f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist",
                current_app=self.admin_site.name,
            ),
            **extra,
        }

    # -- overview ----------------------------------------------------------------

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        self._require(request, VIEW_PERMISSION)
        search = SearchForm(request.GET)
        if search.is_valid():
            query: str = search.cleaned_data["q"]
        else:
            # Refused, not cut short: a truncated search would list users who do
            # not match what was typed. The page is the unfiltered overview, as
            # Django's changelist falls back to after invalid lookup parameters, with
            # the form's own error (and without echoing the search into the page).
            query = ""
            for error in search.errors.get("q", []):
                self.message_user(
                    request, _("Search not run: %(error)s") % {"error": error}, messages.ERROR
                )
        per_page = self.list_per_page
        page: Page[Any]
        if query:
            # Search goes through the user model, then those users' indexes: the
            # cost is the matches', never the store's.
            matches = [user_id_of(pk) for pk in self._search(query)]
            activity = sorted(
                api.users_activity(matches, exact=False),
                key=lambda a: (a.last_seen, a.user_id),
                reverse=True,
            )
            paginator = Paginator(activity, per_page)
            page = paginator.get_page(request.GET.get("p"))
            shown = list(page.object_list)
            overview = api.session_overview(limit=0)
        else:
            # The users index is paged by Redis: the paginator only checks the page
            # number against its size (a range costs nothing), and the page is read
            # again when the number asked for was past the end.
            number = request.GET.get("p")
            overview = api.session_overview(offset=self._offset(number, per_page), limit=per_page)
            page = Paginator(range(overview.signed_in_users), per_page).get_page(number)
            if page.start_index() - 1 != overview.offset and overview.signed_in_users:
                overview = api.session_overview(offset=page.start_index() - 1, limit=per_page)
                page = Paginator(range(overview.signed_in_users), per_page).get_page(page.number)
            shown = overview.users
        rows = self._rows(shown)
        context = self._context(
            request,
            _("Sessions"),
            overview=overview,
            totals=overview.totals,
            users_with_sessions=overview.signed_in_users,
            query=query,
            page=page,
            rows=rows,
            rows_estimated=any(row.estimated for row in rows),
            activity_read_cap=ACTIVITY_READ_CAP,
            **(extra_context or {}),
        )
        return TemplateResponse(request, "django_redis_sessions/admin/overview.html", context)

    @staticmethod
    def _offset(number: str | None, per_page: int) -> int:
        """The offset of page ``number`` (a bad or missing number is page 1; one
        past the end is corrected once the size is known)."""
        try:
            return max(0, int(number or 1) - 1) * per_page
        except ValueError:
            return 0

    def _search(self, query: str) -> list[Any]:
        model = get_user_model()
        condition = Q(**{f"{model.USERNAME_FIELD}__icontains": query})
        email = _email_field(model)
        if email and email != model.USERNAME_FIELD:
            condition |= Q(**{f"{email}__icontains": query})
        return list(
            model._default_manager.filter(condition)
            .order_by("pk")
            .values_list("pk", flat=True)[:SEARCH_LIMIT]
        )

    def _rows(self, activity: list[UserActivity]) -> list[UserRow]:
        users = users_by_id([a.user_id for a in activity])
        email_field = _email_field(get_user_model())
        rows = []
        for item in activity:
            user = users.get(item.user_id)
            rows.append(
                UserRow(
                    user_id=item.user_id,
                    url_id=quote(item.user_id),
                    label=user.get_username() if user else user_label(None, item.user_id),
                    email=str(getattr(user, email_field, "") or "") if email_field else "",
                    sessions=item.sessions,
                    estimated=item.estimated,
                    last_seen=datetime.fromtimestamp(item.last_seen, tz=UTC),
                    signed_in_at=(
                        datetime.fromtimestamp(item.signed_in_at, tz=UTC)
                        if item.signed_in_at > KNOWN_SIGN_IN
                        else None
                    ),
                )
            )
        return rows

    # -- one user ----------------------------------------------------------------

    @staticmethod
    def _user_id(quoted: str) -> str:
        """The user id from a URL, as the index stores it; 404 when it is not a key.

        Every view (and every POST) that names a user goes through here first, so
        an id the database cannot hold is a 404 before anything is read, listed or
        revoked, never a 500 from the query and never a "0 sessions revoked".
        """
        try:
            return user_id_of(user_pk(unquote(quoted)))
        except ValueError:
            raise Http404(_("No such user.")) from None

    def user_view(self, request: HttpRequest, user_id: str) -> HttpResponse:
        self._require(request, VIEW_PERMISSION)
        user_id = self._user_id(user_id)
        if request.method == "POST":
            self._require(request, REVOKE_PERMISSION)
            fingerprints = request.POST.getlist("fingerprint")
            if not fingerprints:
                self.message_user(request, _("No session was selected."), messages.WARNING)
            else:
                self._revoke_selected(request, user_id, fingerprints)
            return HttpResponseRedirect(self._user_url(user_id))
        user = users_by_id([user_id]).get(user_id)
        show_data = conf.SESSIONS_ADMIN_SHOW_DATA and request.user.is_superuser
        per_page = self.list_per_page
        result, page = sessions_page(
            request.GET.get("p"),
            per_page,
            lambda offset: api.user_sessions_page(
                user_id, offset=offset, limit=per_page, current=request, with_data=show_data
            ),
        )
        data = result.data or {}
        rows = [
            {
                "info": info,
                "device": shown_device(info.user_agent, info.device),
                "data": self._shown(data, info.fingerprint) if show_data else None,
            }
            for info in result.sessions
        ]
        context = self._context(
            request,
            _("Sessions of %(user)s") % {"user": user_label(user, user_id)},
            subject=user_label(user, user_id),
            rows=rows,
            total=result.total,
            page=page,
            show_data=show_data,
            revoke_all_url=self._user_url(user_id, "revoke_all"),
            audit_events=self._audit_rows(user_id) if conf.SESSIONS_AUDIT else None,
        )
        return TemplateResponse(request, "django_redis_sessions/admin/user_sessions.html", context)

    @staticmethod
    def _audit_rows(user_id: str) -> list[dict[str, Any]]:
        """The user's recent audit events, newest first, with their cells' text."""
        rows = []
        for event in api.user_audit_events(user_id, limit=AUDIT_PAGE_LIMIT):
            details = [f"{key}: {value}" for key, value in sorted(event.detail.items())]
            if event.user_agent:
                details.insert(0, f"device: {describe_user_agent(event.user_agent)}")
            rows.append(
                {
                    "event": event,
                    "label": event.event.replace("_", " "),
                    "details": "; ".join(details),
                }
            )
        return rows

    def _revoke_selected(self, request: HttpRequest, user_id: str, fingerprints: list[str]) -> None:
        try:
            ended = api.revoke_sessions(fingerprints, user=user_id, by=By.ADMIN, actor=request.user)
        except (ValueError, AmbiguousFingerprint) as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        if ended:
            self.message_user(request, _revoked(ended), messages.SUCCESS)
        else:
            self.message_user(request, _("Those sessions had already ended."), messages.WARNING)

    @staticmethod
    def _shown(data: dict[str, Any], fingerprint: str) -> str:
        if fingerprint not in data:
            return _("(the session has ended)")
        if data[fingerprint] is None:
            return _("(the stored data cannot be decoded)")
        # repr() for anything JSON cannot show (a custom serializer may store any type).
        return json.dumps(data[fingerprint], indent=2, sort_keys=True, default=repr)

    def revoke_all_view(self, request: HttpRequest, user_id: str) -> HttpResponse:
        # The confirmation page lists the sessions: seeing it needs both.
        self._require(request, VIEW_PERMISSION)
        self._require(request, REVOKE_PERMISSION)
        user_id = self._user_id(user_id)
        if request.method == "POST":
            ended = api.revoke_user_sessions(user_id, by=By.ADMIN, actor=request.user)
            self.message_user(request, _revoked(ended), messages.SUCCESS)
            return HttpResponseRedirect(self._user_url(user_id))
        user = users_by_id([user_id]).get(user_id)
        # The first page only, and how many there are: the list is a reminder, and
        # a page view never reads every session of a user.
        first = api.user_sessions_page(user_id, limit=self.list_per_page, current=request)
        context = self._context(
            request,
            _("Are you sure?"),
            subject=user_label(user, user_id),
            sessions=first.sessions,
            total=first.total,
            more=first.total - len(first.sessions),
            user_url=self._user_url(user_id),
        )
        return TemplateResponse(request, "django_redis_sessions/admin/revoke_all.html", context)


# When django.contrib.admin's autodiscover imports this module with the user
# admin already registered (this app listed after django.contrib.auth); apps.py
# does it again once every app is ready. Doing it twice changes nothing.
if apps.is_installed("django.contrib.auth"):
    link_user_admin()
