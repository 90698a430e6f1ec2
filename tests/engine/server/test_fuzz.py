"""A schema-driven fuzzer (schemathesis) against the served OpenAPI schema: whatever it sends
with a valid token, the server answers without a 5xx, and keeps answering."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings

from engine.client import Client

ROUTES = {"/v1/health", "/v1/models", "/v1/jobs", "/v1/jobs/upload", "/v1/jobs/{job_id}",
          "/v1/jobs/{job_id}/cancel", "/v1/jobs/{job_id}/events",
          "/v1/jobs/{job_id}/stems/{name}"}


def fuzz(operation, server, headers: dict, statuses: set[int]) -> None:
    """Up to 15 generated requests to one operation; none may get a 5xx."""

    @given(case=operation.as_strategy())
    @settings(max_examples=15, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def one(case):
        response = case.call(base_url=server.url, headers=headers, timeout=30)
        statuses.add(response.status_code)
        assert response.status_code < 500, (case.as_curl_command(), response.text)

    one()


def test_no_input_makes_a_server_error(server):
    headers = {"Authorization": f"Bearer {server.token}"}
    schema = schemathesis.openapi.from_url(f"{server.url}/v1/openapi.json", headers=headers)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} == ROUTES
    answers: dict[str, set[int]] = {}
    for operation in operations:
        fuzz(operation, server, headers, answers.setdefault(operation.label, set()))
    assert Client(server.url, server.token).health()["status"] == "ok"
    assert all(answers.values()), answers
