"""Every error with which a service refuses a request reaches an API client with its own status and body."""

import importlib
import pkgutil

import pytest
from django.apps import apps as installed_apps

from apps.accounts.errors import DomainError
from apps.accounts.quotas import QuotaExceeded
from apps.accounts.services import TeamRuleError
from apps.datasets.services import DatasetInUse, UploadError, UploadOffsetMismatch
from apps.runs.predict import PredictionError
from apps.runs.services import RunError
from nasweb.api_errors import exception_handler

WHY = "Why it was refused."
# Errors whose constructor takes more than the message.
EXAMPLES = {UploadOffsetMismatch: UploadOffsetMismatch(received=1000, size=5000, status="uploading")}


def domain_errors() -> list[type[DomainError]]:
    # A subclass exists only once its module is imported: import every module of our apps first, so an error
    # type added anywhere is covered without being listed here.
    for app in installed_apps.get_app_configs():
        if app.name.startswith("apps."):
            for module in pkgutil.walk_packages([app.path], f"{app.name}."):
                importlib.import_module(module.name)
    found, unseen = set(), [DomainError]
    while unseen:
        for subclass in unseen.pop().__subclasses__():
            found.add(subclass)
            unseen.append(subclass)
    return sorted(found, key=lambda error_class: f"{error_class.__module__}.{error_class.__qualname__}")


def test_it_finds_every_domain_error():
    assert {RunError, PredictionError, TeamRuleError, QuotaExceeded, UploadError, UploadOffsetMismatch,
            DatasetInUse} <= set(domain_errors())


@pytest.mark.parametrize("error_class", domain_errors(), ids=lambda error_class: error_class.__name__)
def test_it_answers_each_domain_error_with_its_status_and_body(error_class):
    error = EXAMPLES.get(error_class) or error_class(WHY)

    response = exception_handler(error, {})

    assert 400 <= response.status_code < 500 and response.status_code == error.status_code
    assert response.data == error.body()
    assert str(error) in str(response.data)


@pytest.mark.parametrize(("error", "status", "body"), [
    pytest.param(RunError(WHY), 400, {"detail": WHY}, id="RunError"),
    pytest.param(TeamRuleError(WHY), 400, {"detail": WHY}, id="TeamRuleError"),
    pytest.param(DatasetInUse(WHY), 400, {"detail": WHY}, id="DatasetInUse"),
    pytest.param(UploadError(WHY), 400, {"detail": WHY}, id="UploadError"),
    pytest.param(UploadError(WHY, field="size"), 400, {"size": [WHY]}, id="UploadError-of-a-field"),
    pytest.param(PredictionError(WHY), 400, {"image": [WHY]}, id="PredictionError"),
    pytest.param(QuotaExceeded(WHY), 429, {"detail": WHY}, id="QuotaExceeded"),
    pytest.param(EXAMPLES[UploadOffsetMismatch], 409, {"received": 1000, "size": 5000, "status": "uploading",
                                                       "detail": "This upload continues at byte 1000."},
                 id="UploadOffsetMismatch"),
])
def test_it_keeps_the_answers_clients_rely_on(error, status, body):
    response = exception_handler(error, {})

    assert (response.status_code, response.data) == (status, body)
