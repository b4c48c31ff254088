"""Chat templates are untrusted: rendered only in the sandbox; fallbacks by architecture; overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.models.templates import (
    BUILTIN_TEMPLATES,
    ChatTemplate,
    TemplateError,
    render_chat,
    resolve_template,
)

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]

ESCAPES = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.system('touch MARKER') }}",
    "{{ self._TemplateReference__context.cycler.__init__.__globals__.os.popen('touch MARKER').read() }}",
    "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    "{{ messages.append({'role': 'x'}) }}",  # the immutable sandbox forbids mutation too
    "{{ lipsum.__globals__['os'].system('touch MARKER') }}",
]


@pytest.mark.parametrize("source", ESCAPES)
def test_escape_attempts_fail_cleanly_and_execute_nothing(
    source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    template = ChatTemplate(source.replace("MARKER", str(tmp_path / "pwned")), "gguf", ())
    with pytest.raises(TemplateError):
        text = render_chat(template, MESSAGES)
        # Some escapes render to nothing harmful instead of raising; they must not reach Python objects.
        assert "class" not in text and "function" not in text
        raise TemplateError("rendered harmlessly")
    assert not (tmp_path / "pwned").exists()


def test_raise_exception_from_template_is_a_clean_error() -> None:
    template = ChatTemplate("{{ raise_exception('only user and assistant roles') }}", "gguf", ())
    with pytest.raises(TemplateError, match="only user and assistant roles"):
        render_chat(template, MESSAGES)


def test_syntax_error_is_a_clean_error() -> None:
    with pytest.raises(TemplateError, match="failed to render"):
        render_chat(ChatTemplate("{% for %}", "gguf", ()), MESSAGES)


@pytest.mark.parametrize(
    ("architecture", "expected", "marker"),
    [
        ("gemma3", "builtin:gemma", "<start_of_turn>model"),
        ("llama", "builtin:chatml", "<|im_start|>assistant"),
        ("qwen2", "builtin:chatml", "<|im_start|>assistant"),
        ("mistral", "builtin:mistral", "[INST]"),
    ],
)
def test_fallback_by_architecture(architecture: str, expected: str, marker: str) -> None:
    template = resolve_template(override=None, embedded=None, architecture=architecture)
    assert template.origin == expected
    assert marker in render_chat(template, MESSAGES)


def test_gemma_folds_the_system_prompt_into_the_first_user_turn() -> None:
    template = resolve_template(override=None, embedded=None, architecture="gemma3")
    text = render_chat(template, MESSAGES, bos_token="<bos>")
    assert text == "<bos><start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\n"
    assert "<end_of_turn>" in template.stops


def test_override_beats_embedded_and_embedded_beats_fallback() -> None:
    embedded = "{% for m in messages %}{{ m.content }}|{% endfor %}"
    assert resolve_template(override=None, embedded=embedded, architecture="gemma3").origin == "gguf"
    assert (
        resolve_template(override="llama3", embedded=embedded, architecture="gemma3").source
        == BUILTIN_TEMPLATES["llama3"]
    )
    custom = resolve_template(override="{{ messages[-1].content }}!", embedded=embedded, architecture="x")
    assert custom.origin == "override" and render_chat(custom, MESSAGES) == "Hi!"


def test_a_template_is_compiled_once_then_only_rendered() -> None:
    from engine.models import templates

    template = ChatTemplate(BUILTIN_TEMPLATES["chatml"] + "{# only this test's #}", "override", ())
    before = templates._compiled.cache_info()
    first = render_chat(template, MESSAGES)
    second = render_chat(template, [{"role": "user", "content": "Another"}])
    after = templates._compiled.cache_info()
    assert (after.misses - before.misses, after.hits - before.hits) == (1, 1)
    assert "Be brief." in first and "Another" in second and "Be brief." not in second
