from __future__ import annotations

from django import forms


class SignInForm(forms.Form):
    """Username and password; the view checks them with ``aauthenticate``.

    Django's ``AuthenticationForm`` checks the password inside ``is_valid()``,
    synchronously, which an async view cannot call.
    """

    username = forms.CharField(
        max_length=150,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username"}),
    )
    password = forms.CharField(
        strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )
