from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm

from .models import Membership, TeamInvite
from .throttle import LOCKED_MESSAGE, login_blocked, login_failed


class LockoutMixin:
    """A log-in form closed for a while to an account, or an address, after too many failed attempts."""

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        if login_blocked(self.request, username):
            raise forms.ValidationError(LOCKED_MESSAGE, code="locked")
        try:
            return super().clean()
        except forms.ValidationError:
            if self.user_cache is None:  # a wrong password, not a right one for an account that may not log in here
                login_failed(self.request, username)
            raise


class LoginForm(LockoutMixin, AuthenticationForm):
    pass


class AdminLoginForm(LockoutMixin, AdminAuthenticationForm):
    pass


class SignUpForm(UserCreationForm):
    email = forms.EmailField(required=False, help_text="Optional. Only used to tell you about your runs.")

    class Meta(UserCreationForm.Meta):
        fields = ["username", "email"]


class TeamForm(forms.Form):
    name = forms.CharField(max_length=100, strip=True)


class MemberInviteForm(forms.Form):
    username = forms.CharField(max_length=150, strip=True)
    role = forms.ChoiceField(choices=Membership.Role.choices, initial=Membership.Role.MEMBER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Membership.Role.choices)


class InviteLinkForm(forms.Form):
    role = forms.ChoiceField(choices=TeamInvite._meta.get_field("role").choices, initial=Membership.Role.MEMBER)


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, strip=True, help_text="What the token is for, e.g. “CI on the build "
                                                                 "server”.")
