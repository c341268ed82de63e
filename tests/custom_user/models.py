"""Custom user models with non-integer primary keys, for the custom-user test runs.

``tests/settings_uuid_user.py`` makes :class:`Member` (UUID key, signs in by
email) the user model; ``tests/settings_string_user.py`` makes :class:`Handle`
(a string key holding ``:``, ``*`` and ``[``, which must never be read as glob
or key syntax) the user model.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models


class _Manager(BaseUserManager["Any"]):
    def create_user(self, password: str, **fields: Any) -> Any:
        user = self.model(**fields)
        user.set_password(password)
        user.save(using=self._db)
        return user


class Member(AbstractBaseUser):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(unique=True)

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    objects: ClassVar[_Manager] = _Manager()


class Handle(AbstractBaseUser, PermissionsMixin):
    """Also an admin user (``is_staff``, permissions), for the admin's sessions pages
    with a primary key that URLs must quote."""

    handle = models.CharField(max_length=64, primary_key=True)
    email = models.EmailField()
    is_staff = models.BooleanField(default=False)

    USERNAME_FIELD = "handle"
    EMAIL_FIELD = "email"
    objects: ClassVar[_Manager] = _Manager()
