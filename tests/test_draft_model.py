"""A draft model per model (engine.runtime.draft_model): configured and checked through the registry and
the CLI, loaded with its target, drafting for every sequence in one batch, and exact: greedy replies are
token for token those without speculation, sampled ones only ever take tokens the target allows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from llama_cpp import Llama

from engine.cli import main
from engine.errors import UserError
from engine.models import ModelRegistry
from engine.models.registry import ModelRecord
from engine.runtime import Chunk, GenerationParams
from engine.runtime.batch import BatchedModel
from engine.runtime.draft_model import check_draft, set_draft_model
from tests.stepping import run_together as _replies
from tests.tiny_gguf import PIECES, write_tiny_gguf

# Text the tiny model has not seen repeated: prompt lookup finds nothing long, so the draft model drafts.
PROMPTS = ["Write about rivers", "Quick brown fox", "one two", "Numbers 7 and 9, then letters"]


@pytest.fixture(scope="module")
def draft_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Drafts for the tiny model: its own weights in another file (it keeps nearly every token), other
    weights on the same vocabulary (it keeps few), and a model whose vocabulary orders its pieces otherwise."""
    folder = tmp_path_factory.mktemp("drafts")
    return {
        "twin": write_tiny_gguf(folder / "twin.gguf", name="tiny-twin"),
        "other": write_tiny_gguf(folder / "other.gguf", seed=7, n_layers=1, name="tiny-other"),
        "alien": write_tiny_gguf(folder / "alien.gguf", pieces=PIECES[::-1], name="tiny-alien"),
    }


@pytest.fixture()
def drafts(registry: ModelRegistry, tiny_model: ModelRecord, draft_files: dict[str, Path]) -> dict[str, ModelRecord]:
    return {name: registry.import_file(path, name) for name, path in draft_files.items()}


def _model(record: ModelRecord, draft: ModelRecord | None, speculation: str = "lookup") -> BatchedModel:
    """The model, with `draft` drafting at every step: its decodes and drafted tokens counted as free, so
    the cost model drafts all it can whatever the acceptance (these tests are about exactness, not policy)."""
    settings = replace(record.settings, speculation=speculation, draft_model=draft.name if draft else None)
    model = BatchedModel(replace(record, settings=settings), draft=draft)
    if model.draft_model is not None:
        model.draft_model._step_seconds = lambda target, n: 0.0  # type: ignore[method-assign]
        model._draft_cost = lambda request, n: lambda k: 1.0  # type: ignore[method-assign]
    return model


def _text(out: list[Any]) -> tuple[str, str | None, int]:
    chunks = [c for c in out if isinstance(c, Chunk)]
    assert chunks[-1].usage is not None
    return "".join(c.text for c in chunks), chunks[-1].finish_reason, chunks[-1].usage.completion_tokens


def _cases(model: BatchedModel) -> tuple[list[list[int]], list[GenerationParams]]:
    prompts = [model.tokenize(p) for p in PROMPTS]
    params = [
        GenerationParams(max_tokens=48, temperature=0.0, ignore_eos=True),
        GenerationParams(max_tokens=40, temperature=0.0, logprobs=2),
        GenerationParams(max_tokens=30, temperature=0.0, stop=("e",)),
        GenerationParams(max_tokens=37, temperature=0.0, ignore_eos=True, repeat_penalty=1.1),
    ]
    return prompts, params


@pytest.mark.parametrize("which", ["twin", "other"])
def test_greedy_with_a_draft_model_gives_the_tokens_of_no_speculation(
    tiny_model: ModelRecord, drafts: dict[str, ModelRecord], which: str
) -> None:
    plain, fast = _model(tiny_model, None, "off"), _model(tiny_model, drafts[which])
    try:
        assert fast.draft_model is not None
        prompts, params = _cases(plain)
        expected = [_text(out) for out in _replies(plain, prompts, params)]
        assert [_text(out) for out in _replies(fast, prompts, params)] == expected  # four streams at once
        assert fast.draft_model.proposed > 20
        if which == "twin":  # its own weights: (nearly) every drafted token is kept
            assert fast.kept >= 0.8 * fast.drafted
        # One at a time (other batches, other draft lengths): the same tokens again, and the draft's cache
        # follows each conversation (a next prompt starting like the last reply reuses it).
        alone = [_text(_replies(fast, [pr], [pa])[0]) for pr, pa in zip(prompts, params, strict=True)]
        assert alone == expected
        assert not fast.active
    finally:
        plain.close()
        fast.close()


def test_the_draft_models_cache_follows_accepted_tokens(
    tiny_model: ModelRecord, drafts: dict[str, ModelRecord]
) -> None:
    """Every draft is the draft model's own greedy continuation of the sequence as it is now, as llama.cpp
    computes it from scratch in a context of its own: the cells of rejected drafts and of an earlier
    conversation in the same sequence were removed, the accepted tokens and the prompt evaluated."""
    fast = _model(tiny_model, drafts["twin"])
    calls: list[tuple[list[int], int, list[int]]] = []
    try:
        draft_model = fast.draft_model
        assert draft_model is not None
        propose = draft_model._propose

        def record(wants: list[tuple[int, list[int], int]]) -> list[list[int]]:
            got = propose(wants)
            calls.extend((list(context), k, draft) for (_, context, k), draft in zip(wants, got, strict=True))
            return got

        draft_model._propose = record  # type: ignore[method-assign]
        # Sampled: the twin's greedy drafts are often kept, and rejected where the draw differs.
        sampled = GenerationParams(max_tokens=30, temperature=1.0, top_k=3, ignore_eos=True)
        first = fast.tokenize(PROMPTS[0])
        reply = _text(_replies(fast, [first, fast.tokenize(PROMPTS[1])], [sampled, sampled])[0])[0]
        # The same conversation again, then another one in the same sequence.
        _replies(fast, [fast.tokenize(PROMPTS[0] + reply + " and")], [sampled])
        _replies(fast, [fast.tokenize(PROMPTS[3])], [sampled])
        assert fast.drafted > fast.kept > 0  # drafts were rejected (and some kept)
    finally:
        fast.close()
    llm = Llama(str(drafts["twin"].path), n_ctx=512, logits_all=True, verbose=False)
    try:
        assert len(calls) > 12
        for context, k, draft in calls[:: len(calls) // 12]:
            assert 0 < len(draft) <= k
            llm.reset()
            llm.eval(context + draft)
            scores = np.asarray(llm.scores)[len(context) - 1 : len(context) - 1 + len(draft)]
            # Each drafted token is the draft model's greedy choice there (to within kernel rounding: the
            # random tiny model has near-ties, and logits differ in the last digits between batch sizes).
            chosen = scores[np.arange(len(draft)), draft]
            assert np.all(chosen >= scores.max(axis=1) - 0.01), (len(context), draft, scores.argmax(axis=1))
    finally:
        llm.close()


def test_sampled_tokens_with_a_draft_model_are_ones_the_target_allows(
    tiny_model: ModelRecord, drafts: dict[str, ModelRecord]
) -> None:
    """With top_k 3, every token taken is among the target's 3 likeliest after its prefix (end-of-generation
    tokens aside: ignore_eos), checked by
    evaluating the reply with llama.cpp directly; and the draft model's drafts are kept."""
    fast = _model(tiny_model, drafts["twin"])
    try:
        prompts = [fast.tokenize(p) for p in PROMPTS[:3]]
        params = GenerationParams(max_tokens=40, temperature=0.7, top_k=3, top_p=1.0, min_p=0.0, ignore_eos=True)
        taken: dict[int, list[int]] = {}  # each request's tokens, as handed to it
        take = fast._take

        def record(request: Any, token: int, index: int, ctx: Any) -> bool:
            taken.setdefault(request.serial, []).append(token)
            return take(request, token, index, ctx)

        fast._take = record  # type: ignore[method-assign]
        _replies(fast, prompts, [params] * 3)
        assert fast.kept > 0 and fast.draft_model is not None and fast.draft_model.proposed > 0
        replies = [taken[serial] for serial in sorted(taken)]
        end_of_generation = fast._eog  # ignore_eos: never taken
    finally:
        fast.close()
    llm = Llama(str(tiny_model.path), n_ctx=256, logits_all=True, verbose=False)
    try:
        for prompt, tokens in zip(prompts, replies, strict=True):
            assert len(tokens) == 40
            llm.reset()
            llm.eval(prompt + tokens)
            scores = np.asarray(llm.scores)[: len(prompt) + len(tokens)].copy()
            scores[:, end_of_generation] = -np.inf
            for i, token in enumerate(tokens):
                row = scores[len(prompt) - 1 + i]
                third = np.sort(row)[-3]  # (to within kernel rounding between batch sizes)
                assert row[token] >= third - 0.01, f"token {i} ({token}) is not among the target's top 3"
    finally:
        llm.close()


def test_sampled_tokens_after_a_model_draft_follow_the_targets_distribution(
    tiny_model: ModelRecord, drafts: dict[str, ModelRecord]
) -> None:
    """The second token of a reply is the first a draft guesses: its frequencies over many sampled replies
    match the target's probabilities (chi-square, 2 degrees of freedom, threshold at p = 1e-5)."""
    fast = _model(tiny_model, drafts["twin"])
    pairs: list[tuple[int, int]] = []
    try:
        taken: dict[int, list[int]] = {}
        take = fast._take

        def record(request: Any, token: int, index: int, ctx: Any) -> bool:
            taken.setdefault(request.serial, []).append(token)
            return take(request, token, index, ctx)

        fast._take = record  # type: ignore[method-assign]
        prompt = fast.tokenize(PROMPTS[1])
        params = GenerationParams(max_tokens=3, temperature=1.0, top_k=3, top_p=1.0, min_p=0.0, ignore_eos=True)
        for _ in range(100):
            _replies(fast, [prompt] * 4, [params] * 4)
        pairs = [(tokens[0], tokens[1]) for tokens in taken.values()]
        assert fast.draft_model is not None and fast.draft_model.proposed >= len(pairs)  # every second token drafted
        end_of_generation = fast._eog
    finally:
        fast.close()
    first = max(set(t for t, _ in pairs), key=[t for t, _ in pairs].count)
    seconds = [b for a, b in pairs if a == first]
    llm = Llama(str(tiny_model.path), n_ctx=256, logits_all=True, verbose=False)
    try:
        llm.eval([*prompt, first])
        logits = np.asarray(llm.scores)[len(prompt)].astype(np.float64)
    finally:
        llm.close()
    logits[end_of_generation] = -np.inf
    top = np.argsort(-logits)[:3]
    p = np.exp(logits[top] - logits[top].max())
    p /= p.sum()
    counts = np.array([seconds.count(int(t)) for t in top])
    assert counts.sum() == len(seconds) >= 80
    expected = p * len(seconds)
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < 23.0, (counts, expected)


def test_the_cost_model_counts_the_draft_models_time(tiny_model: ModelRecord, drafts: dict[str, ModelRecord]) -> None:
    """The same requests: with the draft model's decodes costing nothing it drafts; costing as much as
    a hundred of the model's steps, it drafts nothing (and the reply is the same)."""
    greedy = GenerationParams(max_tokens=24, temperature=0.0, ignore_eos=True)
    replies, proposed = [], []
    for draft_step in (0.0, 100.0):
        model = BatchedModel(
            replace(tiny_model, settings=replace(tiny_model.settings, draft_model="twin")), draft=drafts["twin"]
        )
        try:
            assert model.draft_model is not None
            model._draft_cost = lambda request, n: lambda k: 1.0 + 0.1 * k  # type: ignore[method-assign]
            model.draft_model._step_seconds = lambda target, n, s=draft_step: s  # type: ignore[method-assign]
            replies.append(_text(_replies(model, [model.tokenize(PROMPTS[0])], [greedy])[0]))
            proposed.append(model.draft_model.proposed)
        finally:
            model.close()
    assert proposed[0] > 10 and proposed[1] == 0
    assert replies[0] == replies[1]


def test_seeded_requests_keep_their_reproducibility_with_a_draft_model(
    tiny_model: ModelRecord, drafts: dict[str, ModelRecord]
) -> None:
    fast = _model(tiny_model, drafts["twin"])
    try:
        prompt = fast.tokenize(PROMPTS[1])
        # (Only a deterministic request promises the same tokens whatever the cache and the load; it keeps
        # prompt lookup, never the draft model, whose batch holds the other requests.)
        seeded = GenerationParams(max_tokens=30, temperature=0.8, seed=11, deterministic=True, ignore_eos=True)
        first = _text(_replies(fast, [prompt], [seeded])[0])
        busy = GenerationParams(max_tokens=30, temperature=0.9, ignore_eos=True)
        under_load = _replies(fast, [fast.tokenize(PROMPTS[0]), prompt], [busy, seeded])
        assert _text(under_load[1]) == first
        assert _text(_replies(fast, [prompt], [seeded])[0]) == first  # warm
        assert fast.draft_model is not None and fast.draft_model.proposed > 0  # (for the busy one)
    finally:
        fast.close()


def test_an_incompatible_or_identical_draft_is_refused(
    registry: ModelRegistry, tiny_model: ModelRecord, drafts: dict[str, ModelRecord]
) -> None:
    with pytest.raises(UserError, match="cannot draft for 'tiny': its token 261 is \"'\" where the target's is 'a'"):
        set_draft_model(registry, "tiny", "alien")
    with pytest.raises(UserError, match="its own draft model"):
        set_draft_model(registry, "tiny", "tiny")
    # (The registry refuses a second copy of a file; the check stands should a record carry the same hash.)
    with pytest.raises(UserError, match="'twin' is the same file as 'tiny'"):
        check_draft(tiny_model, replace(drafts["twin"], sha256=tiny_model.sha256))
    with pytest.raises(UserError, match="unknown model"):
        set_draft_model(registry, "tiny", "nothing")
    assert registry.get("tiny").settings.draft_model is None  # nothing changed
    with pytest.raises(UserError, match="cannot draft"):  # and at load, should the file have changed
        BatchedModel(tiny_model, draft=drafts["alien"])


def test_cli_round_trip_and_loading_through_the_runtime(
    registry: ModelRegistry, tiny_model: ModelRecord, drafts: dict[str, ModelRecord], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["models", "set", "tiny", "--draft-model", "twin"]) == 0
    assert json.loads(capsys.readouterr().out)["draft_model"] == "twin"
    assert main(["models", "list"]) == 0
    assert "draft model twin" in capsys.readouterr().out
    assert main(["models", "info", "tiny"]) == 0
    assert "draft model: twin" in capsys.readouterr().out
    assert main(["models", "info", "tiny", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["settings"]["draft_model"] == "twin"
    # A user's mistake: one line, exit code 1, the setting unchanged.
    refused = subprocess.run(
        [sys.executable, "-m", "engine.cli", "models", "set", "tiny", "--draft-model", "alien"],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ),
    )
    assert refused.returncode == 1, refused.stderr
    assert "cannot draft for 'tiny'" in refused.stderr and "Traceback" not in refused.stderr
    assert registry.get("tiny").settings.draft_model == "twin"

    from engine.runtime import Runtime

    runtime = Runtime(registry)
    try:
        worker = runtime.load("tiny")
        model = worker.call(lambda m: m)
        assert isinstance(model, BatchedModel) and model.draft_model is not None
        assert model.draft_model.record.name == "twin"
    finally:
        runtime.close()
    assert main(["models", "set", "tiny", "--draft-model", "none"]) == 0
    assert json.loads(capsys.readouterr().out)["draft_model"] is None
    assert main(["models", "list"]) == 0
    assert "draft model" not in capsys.readouterr().out


def test_a_removed_draft_model_gives_one_clear_message_at_load(
    registry: ModelRegistry, tiny_model: ModelRecord, drafts: dict[str, ModelRecord]
) -> None:
    set_draft_model(registry, "tiny", "other")
    registry.remove("other")
    from engine.runtime import Runtime

    runtime = Runtime(registry)
    try:
        with pytest.raises(UserError, match="no longer registered.*--draft-model none"):
            runtime.load("tiny")
    finally:
        runtime.close()
