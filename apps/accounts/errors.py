"""The base of the errors with which a service refuses a request, in words meant for the user.

It lives in accounts, the app every other one builds on, so that each app's errors and the API's exception handler
(nasweb/api_errors.py) can all import it. Each error decides here, once, how the API answers it; pages catch it
and show the message instead.
"""


class DomainError(Exception):
    """A request the services refuse; the message says why. The API answers `status_code` with `body()`."""

    status_code = 400
    field: str | None = None  # the input the message is about, keying the body like a serializer's errors

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.field = field or self.field

    def body(self) -> dict:
        if self.field:
            return {self.field: [str(self)]}
        return {"detail": str(self)}
