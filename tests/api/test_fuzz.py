"""schemathesis over our own /openapi.json, with a real key and the tiny model: no server error, no
traceback, and no contract mismatch (every check schemathesis has: status codes, content types,
response schemas, schema-valid requests accepted, schema-invalid ones refused).

Driven through hypothesis directly (one strategy per operation, valid and invalid inputs) rather than
schemathesis's pytest plugin, which does not support this pytest version. Positive cases name the
tiny model, so valid requests reach real generation rather than a 404.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.openapi.checks import RejectedPositiveData

from tests.api.conftest import Api

EXAMPLES = 25
# Refusals of schema-valid requests that no schema can state: a forced tool choice must name one of
# the tools sent (a rule between values); the prompt must fit the model's context, logit_bias and a
# token-id prompt must name tokens of its vocabulary, and `suffix` needs a model with FIM tokens (all
# depend on the model); a tool's or response format's JSON schema must be one the grammar converter can
# enforce (a subset of JSON Schema no meta-schema describes).
# Any other 400 for valid data is a mismatch.
UNSTATABLE_MESSAGES = (
    "tool_choice names a function that is not in tools",
    "logit_bias names a token id outside this model's vocabulary",
    "tool_choice needs tools",  # Anthropic's tool_choice without tools: a rule between values
    "the prompt has a token id outside this model's vocabulary",  # token-id prompts: the model's vocabulary
    "suffix needs fill-in-the-middle tokens",  # only models with FIM tokens fill in the middle
    "prompts × n is at most",  # a bound on the product of two fields (batched prompts and choices)
    "input holds nothing to answer",  # Responses input of reasoning items only: each item valid, none answerable
)
# A previous_response_id must name a response stored for this key: state, not shape. An uploaded file's
# contents (a dataset's rows) are no part of a multipart schema.
UNSTATABLE_CODES = (
    "context_length_exceeded", "invalid_schema", "previous_response_not_found",
    "invalid_file",
)


def _unstatable(response: Any) -> bool:
    if response.status_code != 400:
        return False
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return False
    message = str(error.get("message"))
    code = error.get("code")
    if code is None:  # Anthropic's shape has no code field: the header carries it
        header = response.headers.get("x-enclave-error-code")
        code = header[0] if isinstance(header, list) and header else header
    return code in UNSTATABLE_CODES or message.startswith(UNSTATABLE_MESSAGES)


def test_no_server_errors_and_no_contract_mismatches(api: Api) -> None:
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
                positive = case.meta is not None and case.meta.generation.mode is GenerationMode.POSITIVE
                if positive and isinstance(case.body, dict) and "model" in case.body:
                    case.body["model"] = "tiny"
                response = case.call(headers=auth, timeout=60)
                where = f"{case.method} {case.path}: {response.status_code} {response.text[:300]}"
                assert response.status_code < 500, where
                assert "Traceback" not in response.text, where
                if response.status_code >= 400 and case.path.startswith("/v1/messages"):  # Anthropic's shape
                    body = response.json()
                    assert body["type"] == "error" and set(body["error"]) == {"type", "message"}, where
                elif response.status_code >= 400:
                    assert set(response.json()["error"]) == {"message", "type", "param", "code"}, where
                try:
                    case.validate_response(response, headers=auth)
                except RejectedPositiveData:
                    if not _unstatable(response):
                        raise
                except BaseExceptionGroup as group:  # schemathesis reports several failures at once
                    rest = group.subgroup(lambda exc: not isinstance(exc, BaseExceptionGroup) and not (
                        isinstance(exc, RejectedPositiveData) and _unstatable(response)
                    ))
                    if rest is not None:
                        raise rest from None

            try:
                check()
            except Unsatisfiable:
                # No invalid input exists for an operation without parameters (GET /health).
                assert mode is GenerationMode.NEGATIVE
                continue
            tried.append(f"{mode.value} {operation.method.upper()} {operation.path}")
    assert len(tried) >= 10


def test_the_four_places_the_schema_and_server_disagreed(api: Api) -> None:
    import httpx

    published = httpx.get(f"{api.server.url}/openapi.json", timeout=10).json()
    paths = published["paths"]
    chat_body = paths["/v1/chat/completions"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    schemas = published["components"]["schemas"]
    chat = schemas[chat_body["$ref"].rsplit("/", 1)[-1]]
    seed = next(s for s in chat["properties"]["seed"]["anyOf"] if s.get("type") == "integer")
    assert float(seed["maximum"]) == seed["maximum"] and float(seed["minimum"]) == seed["minimum"]  # exact doubles
    for path in ("/v1/chat/completions", "/v1/completions"):
        assert set(paths[path]["post"]["responses"]["200"]["content"]) == {"application/json", "text/event-stream"}
    with api.client() as client:
        messages = [{"role": "user", "content": "hi"}]
        # top_logprobs without logprobs: schema-valid, so accepted (and ignored)
        reply = client.post("/v1/chat/completions", json={"model": "tiny", "messages": messages, "max_tokens": 2,
                                                          "top_logprobs": 3, "seed": 2**53})
        assert reply.status_code == 200, reply.text
        assert reply.json()["choices"][0]["logprobs"] is None
        # echo: 0 is not a boolean
        refused = client.post("/v1/completions", json={"model": "tiny", "prompt": "a", "echo": 0, "max_tokens": 2})
        assert refused.status_code == 400 and refused.json()["error"]["param"] == "echo"
        # 3.0 is an integer to JSON Schema, so to the server too; 3.5 and "3" are not
        for value, status in ((2.0, 200), (2.5, 400), ("2", 400), (True, 400)):
            response = client.post("/v1/completions", json={"model": "tiny", "prompt": "a", "max_tokens": value})
            assert response.status_code == status, (value, response.text)
        with client.stream("POST", "/v1/completions",
                           json={"model": "tiny", "prompt": "a", "max_tokens": 2, "stream": True}) as streamed:
            assert streamed.headers["content-type"].startswith("text/event-stream")
