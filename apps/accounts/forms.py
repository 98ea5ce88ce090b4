from django import forms
from django.contrib.auth.forms import UserCreationForm

from .models import Membership, TeamInvite


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
