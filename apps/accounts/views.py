from django.contrib.auth import login
from django.contrib.auth.views import LoginView
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from .forms import SignUpForm
from .throttle import FAILED_LOGIN_WINDOW_SECONDS, login_blocked, login_failed


@require_http_methods(["GET", "POST"])
def signup(request):
    if request.user.is_authenticated:
        return redirect("home")
    form = SignUpForm(request.POST or None)
    if form.is_valid():
        login(request, form.save(), backend="django.contrib.auth.backends.ModelBackend")
        return redirect("home")
    return render(request, "accounts/signup.html", {"form": form})


class ThrottledLoginView(LoginView):
    """Django's log-in page, closed for a while to an account and address after too many failed attempts."""

    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        if login_blocked(request, request.POST.get("username", "")):
            form = self.get_form()
            form.add_error(None, f"Too many failed attempts. Wait {FAILED_LOGIN_WINDOW_SECONDS // 60} minutes, "
                                 "then try again.")
            return self.render_to_response(self.get_context_data(form=form))
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        login_failed(self.request, self.request.POST.get("username", ""))
        return super().form_invalid(form)
