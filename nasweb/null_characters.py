"""A NUL character in a URL is refused at the door: no id, name or key holds one, and PostgreSQL text cannot, so a
query that carries one (`?search=%00`, `/accounts/teams/join/%00/`) would end in a database error, a 500."""

from django.http import HttpResponseBadRequest, JsonResponse

MESSAGE = "A URL cannot contain a NUL character (%00)."


class NullCharacterRefusal:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path or any("\x00" in key + "".join(values) for key, values in request.GET.lists()):
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": MESSAGE}, status=400)
            return HttpResponseBadRequest(MESSAGE, content_type="text/plain; charset=utf-8")
        return self.get_response(request)
