"""Between OpenAI request/response shapes and the engine's messages, parameters and chunks."""

from __future__ import annotations

from typing import Any

from engine.api.grammar import OutputPlan, tool_instructions
from engine.api.schemas import ChatCompletionRequest, ChatMessage, CompletionRequest
from engine.api.settings import ApiSettings
from engine.models.template_input import ToolOffer
from engine.runtime import GenerationParams, TokenLogprob

COMPLETION_DEFAULT_MAX_TOKENS = 16  # OpenAI's default for /v1/completions


def _engine_message(message: ChatMessage) -> dict[str, Any]:
    role = "system" if message.role == "developer" else message.role
    result: dict[str, Any] = {"role": role, "content": message.text()}
    if message.name:
        result["name"] = message.name
    if message.tool_calls:
        # How the model sees them depends on its template (engine.models.templates.prepare_messages).
        result["tool_calls"] = [call.model_dump(exclude_none=True) for call in message.tool_calls]
    if message.tool_call_id:
        result["tool_call_id"] = message.tool_call_id
    return result


def chat_messages(request: ChatCompletionRequest) -> list[dict[str, Any]]:
    """The conversation as the engine's role/content dicts."""
    return [_engine_message(m) for m in request.messages]


def tool_offer(request: ChatCompletionRequest, plan: OutputPlan) -> ToolOffer | None:
    """The tools the model is shown, unless `tool_choice` is "none".

    A template with tool syntax shows them in every case (a forced call's arguments are better for it);
    others get a system note only when the model may choose (a forced call is the grammar's business).
    """
    if not request.tools or request.tool_choice == "none":
        return None
    specs = tuple(tool.model_dump(exclude_none=True) for tool in request.tools)
    return ToolOffer(specs, tool_instructions(plan.tools_offered) if plan.tools_offered else "")


def _seed(seed: int | None) -> int | None:
    # llama.cpp seeds are 32-bit; OpenAI's are 64-bit. Fold rather than reject.
    return None if seed is None else seed % (2**32 - 1)


def generation_params(
    request: ChatCompletionRequest | CompletionRequest,
    settings: ApiSettings,
    *,
    grammar: str | None = None,
    budget: int | None = None,
) -> GenerationParams:
    """Sampling settings of a request, `max_tokens` capped by the server and the key's budget."""
    defaults = GenerationParams()
    if isinstance(request, ChatCompletionRequest):
        asked = request.max_completion_tokens or request.max_tokens or settings.default_max_tokens
        top = (request.top_logprobs or 0) if request.logprobs else None
    else:
        asked = request.max_tokens or COMPLETION_DEFAULT_MAX_TOKENS
        top = request.logprobs
    max_tokens = min(asked, settings.max_tokens_cap, budget if budget is not None else asked)
    return GenerationParams(
        max_tokens=max(1, max_tokens),
        temperature=defaults.temperature if request.temperature is None else request.temperature,
        top_p=defaults.top_p if request.top_p is None else request.top_p,
        top_k=defaults.top_k if request.top_k is None else request.top_k,
        min_p=defaults.min_p if request.min_p is None else request.min_p,
        repeat_penalty=defaults.repeat_penalty if request.repeat_penalty is None else request.repeat_penalty,
        presence_penalty=request.presence_penalty or 0.0,
        frequency_penalty=request.frequency_penalty or 0.0,
        stop=request.stops(),
        seed=_seed(request.seed),
        grammar=grammar,
        logprobs=top,
        logit_bias=tuple((int(token), bias) for token, bias in (request.logit_bias or {}).items()),
    ).validated()


def _token_bytes(token: str) -> list[int]:
    return list(token.encode("utf-8"))


def chat_logprobs(items: list[TokenLogprob]) -> dict[str, Any]:
    """`choices[].logprobs` of a chat completion."""
    return {
        "content": [
            {
                "token": item.token,
                "logprob": item.logprob,
                "bytes": _token_bytes(item.token),
                "top_logprobs": [
                    {"token": token, "logprob": logprob, "bytes": _token_bytes(token)} for token, logprob in item.top
                ],
            }
            for item in items
        ],
        "refusal": None,
    }


def completion_logprobs(items: list[TokenLogprob], offset: int = 0) -> dict[str, Any]:
    """`choices[].logprobs` of a text completion (the legacy shape)."""
    offsets = []
    position = offset
    for item in items:
        offsets.append(position)
        position += len(item.token)
    return {
        "tokens": [item.token for item in items],
        "token_logprobs": [item.logprob for item in items],
        "top_logprobs": [dict(item.top) if item.logprob is not None else None for item in items],
        "text_offset": offsets,
    }
