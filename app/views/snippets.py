"""Copy-ready examples for the Server view: curl and Python calls, and the line that sets the key."""

from __future__ import annotations

import json
import shlex

SNIPPET_MAX_TOKENS = 200  # a short reply: the example answers in seconds, even on a laptop CPU
KEY_VARIABLE = "ENCLAVE_API_KEY"


def snippets(url: str, model: str, missing_key: str = "set it first: export ENCLAVE_API_KEY=…") -> tuple[str, str]:
    """Ready-to-run curl and Python (openai client) examples for a model, reading the key from
    $ENCLAVE_API_KEY (the key dialog offers the line that sets it); `missing_key` is what they say when it
    is not set, instead of a bare 401."""
    body = json.dumps({
        "model": model,
        "messages": [{"role": "user", "content": "Hello!"}],
        "max_tokens": SNIPPET_MAX_TOKENS,
    }, ensure_ascii=False)
    curl = (
        f"curl {url}/v1/chat/completions \\\n"
        f'  -H "Authorization: Bearer ${{{KEY_VARIABLE}:?{missing_key}}}" \\\n'
        '  -H "Content-Type: application/json" \\\n'
        f"  -d {shlex.quote(body)}"
    )
    python = (
        "import os\n"
        "import sys\n\n"
        "from openai import OpenAI\n\n"
        f'key = os.environ.get("{KEY_VARIABLE}") or sys.exit({json.dumps(missing_key, ensure_ascii=False)})\n'
        f'client = OpenAI(base_url="{url}/v1", api_key=key)\n'
        "reply = client.chat.completions.create(\n"
        f"    model={json.dumps(model)},\n"
        '    messages=[{"role": "user", "content": "Hello!"}],\n'
        f"    max_tokens={SNIPPET_MAX_TOKENS},\n"
        ")\n"
        "print(reply.choices[0].message.content)\n"
    )
    return curl, python


def export_lines(secret: str) -> tuple[str, str]:
    """The lines that put a new key where the examples read it: POSIX shells, then PowerShell."""
    return f"export {KEY_VARIABLE}={secret}", f'$env:{KEY_VARIABLE} = "{secret}"'


def client_url(url: str) -> str:
    """The URL a program on this machine uses: a wildcard bind (0.0.0.0, ::) is reached over loopback."""
    for wildcard, loopback in (("//0.0.0.0:", "//127.0.0.1:"), ("//[::]:", "//[::1]:")):
        url = url.replace(wildcard, loopback)
    return url
