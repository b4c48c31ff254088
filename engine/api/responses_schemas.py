"""Request body of OpenAI's Responses API (`POST /v1/responses`), validated strictly as the chat
completions body is (engine.api.schemas); unknown fields are ignored."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StrictBool, StrictStr

from engine.api.schemas import FunctionName, MaxTokens, Name, Temperature, Text, ToolDescription, TopP, _Body

Parts = 256


class InputText(_Body):
    """A text part of a message (`input_text`, or `output_text` of an earlier reply)."""

    type: Literal["input_text", "output_text", "text"]
    text: Text


InputPart = Annotated[InputText, Field(discriminator="type")]


class MessageItem(_Body):
    """A message: `{"role", "content"}`, with or without `"type": "message"`."""

    type: Literal["message"] | None = None
    role: Literal["user", "assistant", "system", "developer"]
    content: Text | Annotated[list[InputPart], Field(max_length=Parts)]
    id: Name | None = None
    status: StrictStr | None = None

    def text(self) -> str:
        """The content as one string."""
        return self.content if isinstance(self.content, str) else "".join(p.text for p in self.content)


class FunctionCallItem(_Body):
    """A call the model made in an earlier turn."""

    type: Literal["function_call"]
    call_id: Name
    name: FunctionName
    arguments: Text
    id: Name | None = None
    status: StrictStr | None = None


class FunctionCallOutputItem(_Body):
    """What the client's function answered."""

    type: Literal["function_call_output"]
    call_id: Name
    output: Text
    id: Name | None = None
    status: StrictStr | None = None


class ReasoningItem(_Body):
    """A reasoning item of an earlier reply (not shown to the model again)."""

    type: Literal["reasoning"]
    id: Name | None = None
    summary: list[Any] | None = None
    content: list[Any] | None = None


# Item references (`item_reference`) are not accepted: a client sends the items themselves or continues
# with previous_response_id. Leaving them out of the schema keeps the published contract what we serve.
InputItem = MessageItem | FunctionCallItem | FunctionCallOutputItem | ReasoningItem


class FunctionTool(_Body):
    """A function the model may call (the Responses shape: name at the top level)."""

    type: Literal["function"]
    name: FunctionName
    description: ToolDescription | None = None
    parameters: dict[str, Any] | None = None
    strict: StrictBool | None = None


class FileSearchTool(_Body):
    """The file_search tool over document collections (vector stores)."""

    type: Literal["file_search"]
    vector_store_ids: Annotated[list[Name], Field(min_length=1, max_length=16)]
    max_num_results: Annotated[int, Field(ge=1, le=50)] | None = None


ResponseTool = Annotated[FunctionTool | FileSearchTool, Field(discriminator="type")]


class ToolChoiceNamed(_Body):
    """`tool_choice: {"type": "function", "name": …}`."""

    type: Literal["function"]
    name: FunctionName


class TextFormatPlain(_Body):
    """`text.format` text or json_object."""

    type: Literal["text", "json_object"]


class TextFormatSchema(_Body):
    """`text.format` json_schema: JSON matching a schema (its name and schema are required, and the schema says so)."""

    type: Literal["json_schema"]
    name: FunctionName
    description: StrictStr | None = None
    schema_: dict[str, Any] = Field(alias="schema")
    strict: StrictBool | None = None


TextFormat = Annotated[TextFormatPlain | TextFormatSchema, Field(discriminator="type")]


class TextConfig(_Body):
    """`text`."""

    format: TextFormat | None = None


class ResponsesRequest(_Body):
    """`POST /v1/responses`."""

    model: Name
    input: Text | Annotated[list[InputItem], Field(min_length=1, max_length=4096)]
    instructions: Text | None = None
    max_output_tokens: MaxTokens | None = None
    temperature: Temperature | None = None
    top_p: TopP | None = None
    tools: Annotated[list[ResponseTool], Field(max_length=128)] | None = None
    tool_choice: Literal["none", "auto", "required"] | ToolChoiceNamed | None = None
    parallel_tool_calls: StrictBool | None = None
    text: TextConfig | None = None
    store: StrictBool = True
    previous_response_id: Name | None = None
    stream: StrictBool = False
    metadata: Annotated[dict[str, Annotated[StrictStr, Field(max_length=512)]], Field(max_length=16)] | None = None
    user: Annotated[StrictStr, Field(max_length=256)] | None = None
    include: Annotated[list[Annotated[StrictStr, Field(max_length=100)]], Field(max_length=16)] | None = None

    def function_tools(self) -> list[FunctionTool]:
        """The function tools offered."""
        return [tool for tool in self.tools or () if isinstance(tool, FunctionTool)]
