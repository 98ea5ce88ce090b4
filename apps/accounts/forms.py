from django import forms
from django.contrib.auth.forms import UserCreationForm


class SignUpForm(UserCreationForm):
    email = forms.EmailField(required=False, help_text="Optional. Only used to tell you about your runs.")

    class Meta(UserCreationForm.Meta):
        fields = ["username", "email"]
