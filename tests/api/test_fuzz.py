"""A short schemathesis pass over our own /openapi.json: whatever it sends, no 5xx and no traceback.

Driven through hypothesis directly (one strategy per operation, valid and invalid inputs) rather than
schemathesis's pytest plugin, which does not support this pytest version.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.api.conftest import Api

EXAMPLES = 10


def test_no_server_errors(api: Api) -> None:
    schema = schemathesis.openapi.from_url(f"{api.server.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {
        "/v1/chat/completions",
        "/v1/completions",
        "/v1/embeddings",
        "/v1/messages",
        "/v1/messages/count_tokens",
        "/v1/responses",
        "/v1/responses/{response_id}",
    }
    auth = {"Authorization": f"Bearer {api.key}"}
    tried: list[str] = []
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                derandomize=True,  # the same inputs every run: a failure is reproducible
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
                database=None,
            )
            def check(case: schemathesis.Case) -> None:
                response = case.call(headers=auth, timeout=30)
                where = f"{case.method} {case.path}: {response.status_code} {response.text[:300]}"
                assert response.status_code < 500, where
                assert "Traceback" not in response.text, where
                if response.status_code >= 400 and case.path.startswith("/v1/messages"):  # Anthropic's shape
                    body = response.json()
                    assert body["type"] == "error" and set(body["error"]) == {"type", "message"}, where
                elif response.status_code >= 400:
                    assert set(response.json()["error"]) == {"message", "type", "param", "code"}, where

            try:
                check()
            except Unsatisfiable:
                # No invalid input exists for an operation without parameters (GET /health).
                assert mode is GenerationMode.NEGATIVE
                continue
            tried.append(f"{mode.value} {operation.method.upper()} {operation.path}")
    assert len(tried) >= 10
