"""Request bodies of the OpenAI-compatible routes, validated strictly.

Scalars are strict (no "0.5" for a number, no 1 for a boolean) and ranges are checked here, so a
bad value is a 400 naming its parameter. Unknown fields are ignored, as OpenAI clients send many;
the one exception is `grammar`, refused so that nobody believes a raw grammar was applied.

What is accepted is exactly what the published schema (/openapi.json) says, checked by schemathesis in
tests/api/test_fuzz.py: an integer may be written 3.0 (JSON Schema counts it as one), every bound is a
number a double holds exactly, and no field depends on another in a way the schema cannot state.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    model_validator,
)


def _whole(value: Any) -> Any:
    # JSON Schema's "integer" includes 3.0; so does this API (not True, "3" or 3.5: StrictInt refuses those).
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _only_bool(value: Any) -> Any:
    # A Literal[False] would take 0 as False; the schema says boolean.
    if value is not None and not isinstance(value, bool):
        raise ValueError("must be a boolean")
    return value


WHOLE = BeforeValidator(_whole)
MAX_TEXT = 4 * 1024 * 1024
Name = Annotated[StrictStr, Field(min_length=1, max_length=256)]
Text = Annotated[StrictStr, Field(max_length=MAX_TEXT)]
StopText = Annotated[StrictStr, Field(min_length=1, max_length=200)]
Temperature = Annotated[StrictFloat, Field(ge=0.0, le=2.0)]
TopP = Annotated[StrictFloat, Field(gt=0.0, le=1.0)]
Penalty = Annotated[StrictFloat, Field(ge=-2.0, le=2.0)]
MaxTokens = Annotated[StrictInt, Field(ge=1, le=1_000_000), WHOLE]
# ±2**53: integers a double holds exactly, so JSON tools that read numbers as doubles (most do) agree
# with this bound; an int64 bound (2**63 - 1) reads as 2**63 there. Seeds are folded to 32 bits anyway.
Seed = Annotated[StrictInt, Field(ge=-(2**53), le=2**53), WHOLE]
FunctionName = Annotated[StrictStr, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
# Coding agents (Claude Code, Codex) describe their tools at length: some descriptions pass 8 KiB.
ToolDescription = Annotated[StrictStr, Field(max_length=64 * 1024)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class TextPart(_Body):
    """A text content part (images and audio are not supported by local text models)."""

    type: Literal["text"]
    text: Text


class FunctionCall(_Body):
    """The function a tool call invokes."""

    name: FunctionName
    arguments: Text


class ToolCall(_Body):
    """A tool call in an assistant message of the history."""

    id: Name
    type: Literal["function"] = "function"
    function: FunctionCall


class ChatMessage(_Body):
    """One message of the conversation."""

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: Text | Annotated[list[TextPart], Field(max_length=256)] | None = None
    name: Name | None = None
    tool_calls: Annotated[list[ToolCall], Field(max_length=64)] | None = None
    tool_call_id: Name | None = None

    def text(self) -> str:
        """The content as one string."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


class FunctionDef(_Body):
    """A function the model may call."""

    name: FunctionName
    description: ToolDescription | None = None
    parameters: dict[str, Any] | None = None
    strict: StrictBool | None = None


class Tool(_Body):
    """A tool offered to the model."""

    type: Literal["function"]
    function: FunctionDef


class NamedFunction(_Body):
    """The function a forced tool choice names."""

    name: FunctionName


class ToolChoiceFunction(_Body):
    """`tool_choice: {"type": "function", "function": {"name": …}}`."""

    type: Literal["function"]
    function: NamedFunction


class JsonSchemaFormat(_Body):
    """The schema of a `json_schema` response format."""

    name: FunctionName
    description: StrictStr | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: StrictBool | None = None


class ResponseFormat(_Body):
    """`response_format`: free text, any JSON object, or JSON matching a schema."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "if": {"required": ["type"], "properties": {"type": {"const": "json_schema"}}},
            "then": {"required": ["json_schema"], "properties": {"json_schema": {"type": "object"}}},
        },
    )

    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None

    @model_validator(mode="after")
    def _schema_given(self) -> ResponseFormat:
        if self.type == "json_schema" and self.json_schema is None:
            raise ValueError("json_schema is required when type is 'json_schema'")
        return self


class StreamOptions(_Body):
    """`stream_options`."""

    include_usage: StrictBool = False


class _Sampling(_Body):
    """Fields shared by chat and text completions."""

    model: Name
    temperature: Temperature | None = None
    top_p: TopP | None = None
    max_tokens: MaxTokens | None = None
    stop: StopText | Annotated[list[StopText], Field(max_length=8)] | None = None
    seed: Seed | None = None
    presence_penalty: Penalty | None = None
    frequency_penalty: Penalty | None = None
    n: Annotated[StrictInt, Field(ge=1, le=1), WHOLE] | None = None
    stream: StrictBool = False
    stream_options: StreamOptions | None = None
    user: Annotated[StrictStr, Field(max_length=256)] | None = None
    # llama.cpp sampling extensions many local clients send.
    top_k: Annotated[StrictInt, Field(ge=0, le=1000), WHOLE] | None = None
    min_p: Annotated[StrictFloat, Field(ge=0.0, le=1.0)] | None = None
    repeat_penalty: Annotated[StrictFloat, Field(gt=0.0, le=10.0)] | None = None
    logit_bias: (
        Annotated[
            dict[Annotated[str, Field(pattern=r"^[0-9]{1,7}$")], Annotated[StrictFloat, Field(ge=-100, le=100)]],
            # Keys other than token ids are refused: say so (patternProperties alone would allow them).
            Field(max_length=300, json_schema_extra={"additionalProperties": False}),
        ]
        | None
    ) = None
    # Published as null-only, so the schema says what the server does: any other value is refused.
    grammar: Annotated[None, Field(description="Not supported: raw grammars are refused; use response_format")] = None

    def stops(self) -> tuple[str, ...]:
        """`stop` as a tuple."""
        if self.stop is None:
            return ()
        return (self.stop,) if isinstance(self.stop, str) else tuple(self.stop)


# A forced tool choice needs tools to choose from (the one rule between fields the schema can state).
TOOL_CHOICE_NEEDS_TOOLS: dict[str, Any] = {
    "if": {
        "required": ["tool_choice"],
        "properties": {"tool_choice": {"anyOf": [{"const": "required"}, {"type": "object"}]}},
    },
    "then": {"required": ["tools"], "properties": {"tools": {"type": "array", "minItems": 1}}},
}


class ChatCompletionRequest(_Sampling):
    """`POST /v1/chat/completions`."""

    model_config = ConfigDict(extra="ignore", json_schema_extra=TOOL_CHOICE_NEEDS_TOOLS)

    messages: Annotated[list[ChatMessage], Field(min_length=1, max_length=4096)]
    max_completion_tokens: MaxTokens | None = None
    logprobs: StrictBool | None = None
    # Used only with logprobs: true (ignored otherwise, rather than a dependency the schema cannot state).
    top_logprobs: Annotated[StrictInt, Field(ge=0, le=20), WHOLE] | None = None
    response_format: ResponseFormat | None = None
    tools: Annotated[list[Tool], Field(max_length=128)] | None = None
    tool_choice: Literal["none", "auto", "required"] | ToolChoiceFunction | None = None
    parallel_tool_calls: StrictBool | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ChatCompletionRequest:
        if isinstance(self.tool_choice, ToolChoiceFunction) or self.tool_choice == "required":
            if not self.tools:
                raise ValueError("tool_choice needs tools")
            if isinstance(self.tool_choice, ToolChoiceFunction):
                names = {tool.function.name for tool in self.tools}
                if self.tool_choice.function.name not in names:
                    raise ValueError("tool_choice names a function that is not in tools")
        return self


class CompletionRequest(_Sampling):
    """`POST /v1/completions`."""

    prompt: Text | Annotated[list[Text], Field(min_length=1, max_length=1)]
    logprobs: Annotated[StrictInt, Field(ge=0, le=20), WHOLE] | None = None
    echo: Annotated[Literal[False], BeforeValidator(_only_bool)] | None = None
    best_of: Annotated[StrictInt, Field(ge=1, le=1), WHOLE] | None = None
    suffix: Annotated[None, Field(description="Not supported")] = None

    def prompt_text(self) -> str:
        """The prompt as one string."""
        return self.prompt if isinstance(self.prompt, str) else self.prompt[0]


class EmbeddingRequest(_Body):
    """`POST /v1/embeddings`."""

    model: Name
    input: (
        Annotated[StrictStr, Field(min_length=1, max_length=MAX_TEXT)]
        | Annotated[list[Annotated[StrictStr, Field(min_length=1, max_length=MAX_TEXT)]], Field(min_length=1)]
    )
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: Annotated[None, Field(description="Not supported")] = None
    user: Annotated[StrictStr, Field(max_length=256)] | None = None

    def texts(self) -> list[str]:
        """The inputs as a list."""
        return [self.input] if isinstance(self.input, str) else list(self.input)
