"""Request bodies of Anthropic's Messages API (`/v1/messages`, `/v1/messages/count_tokens`), validated
strictly as the OpenAI ones are (engine.api.schemas); unknown fields are ignored."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StrictBool, StrictFloat, StrictInt, StrictStr

from engine.api.schemas import WHOLE, FunctionName, MaxTokens, Name, StopText, Text, ToolDescription, _Body

Blocks = 256


class TextBlock(_Body):
    """A text block."""

    type: Literal["text"]
    text: Text


class ToolUseBlock(_Body):
    """A call the assistant made (in the history)."""

    type: Literal["tool_use"]
    id: Name
    name: FunctionName
    input: dict[str, Any]


class ToolResultBlock(_Body):
    """What a tool answered, sent back in a user turn."""

    type: Literal["tool_result"]
    tool_use_id: Name
    content: Text | Annotated[list[TextBlock], Field(max_length=Blocks)] | None = None
    is_error: StrictBool | None = None

    def text(self) -> str:
        """The result as one string."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(block.text for block in self.content)


class ThinkingBlock(_Body):
    """A reasoning model's thinking, as an earlier reply returned it (not shown to the model again)."""

    type: Literal["thinking"]
    thinking: Text
    signature: Annotated[StrictStr, Field(max_length=65536)] | None = None


class RedactedThinkingBlock(_Body):
    """Thinking another service redacted (not shown to the model)."""

    type: Literal["redacted_thinking"]
    data: Annotated[StrictStr, Field(max_length=1024 * 1024)]


# Which blocks a turn may hold is part of the schema (a tool_result in an assistant turn is not valid data),
# so the published OpenAPI document and the server agree on it.
UserBlock = Annotated[TextBlock | ToolResultBlock, Field(discriminator="type")]
AssistantBlock = Annotated[
    TextBlock | ToolUseBlock | ThinkingBlock | RedactedThinkingBlock, Field(discriminator="type")
]


class UserMessage(_Body):
    """A turn of the person (or of the tools' results)."""

    role: Literal["user"]
    content: Text | Annotated[list[UserBlock], Field(max_length=Blocks)]


class AssistantMessage(_Body):
    """A turn of the model."""

    role: Literal["assistant"]
    content: Text | Annotated[list[AssistantBlock], Field(max_length=Blocks)]


Message = Annotated[UserMessage | AssistantMessage, Field(discriminator="role")]


class ToolDef(_Body):
    """A client tool the model may call."""

    type: Literal["custom"] | None = None
    name: FunctionName
    description: ToolDescription | None = None
    input_schema: dict[str, Any]


class ToolChoiceMode(_Body):
    """`tool_choice` auto, any (some tool) or none."""

    type: Literal["auto", "any", "none"]
    disable_parallel_tool_use: StrictBool | None = None


class ToolChoiceNamed(_Body):
    """`tool_choice` tool: this one (the name is required, and the schema says so)."""

    type: Literal["tool"]
    name: FunctionName
    disable_parallel_tool_use: StrictBool | None = None


ToolChoice = Annotated[ToolChoiceMode | ToolChoiceNamed, Field(discriminator="type")]


class ThinkingConfig(_Body):
    """`thinking`: show a reasoning model's thinking blocks, or not."""

    type: Literal["enabled", "disabled", "adaptive"]
    budget_tokens: Annotated[StrictInt, Field(ge=0, le=1_000_000), WHOLE] | None = None


class OutputFormat(_Body):
    """`output_config.format`: JSON matching a schema (enforced by grammar)."""

    type: Literal["json_schema"]
    schema_: dict[str, Any] = Field(alias="schema")


class OutputConfig(_Body):
    """`output_config`: the output's format (`effort` is accepted and has no effect here)."""

    effort: Literal["low", "medium", "high", "xhigh", "max"] | None = None
    format: OutputFormat | None = None


class CountTokensRequest(_Body):
    """`POST /v1/messages/count_tokens`."""

    model: Name
    messages: Annotated[list[Message], Field(min_length=1, max_length=4096)]
    system: Text | Annotated[list[TextBlock], Field(max_length=Blocks)] | None = None
    tools: Annotated[list[ToolDef], Field(max_length=128)] | None = None
    tool_choice: ToolChoice | None = None
    thinking: ThinkingConfig | None = None
    output_config: OutputConfig | None = None

    def system_text(self) -> str | None:
        """The system prompt as one string."""
        if self.system is None or isinstance(self.system, str):
            return self.system
        return "\n\n".join(block.text for block in self.system)


class MessagesRequest(CountTokensRequest):
    """`POST /v1/messages`."""

    max_tokens: MaxTokens
    stop_sequences: Annotated[list[StopText], Field(max_length=8)] | None = None
    temperature: Annotated[StrictFloat, Field(ge=0.0, le=1.0)] | None = None
    top_p: Annotated[StrictFloat, Field(gt=0.0, le=1.0)] | None = None
    top_k: Annotated[StrictInt, Field(ge=0, le=1000), WHOLE] | None = None
    stream: StrictBool = False
    metadata: dict[str, Any] | None = None
