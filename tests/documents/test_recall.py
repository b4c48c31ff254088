"""Retrieval quality on a real reference text this repository did not write: the documentation of
Python standard-library modules as `pydoc` renders it, one file per module. Each question paraphrases
what a function does without naming it; a hit counts when a top-5 chunk comes from the right module and
names the function. Both figures (and vector search alone) are printed.

The issue asks for hybrid recall@5 >= 0.93. With the default model (multilingual-e5-small, 4-bit) this
set measures 0.91 (plain BM25 0.72, vectors alone 0.81): the test holds that floor and the margin over
BM25, and the README says the target is not reached yet.
"""

from __future__ import annotations

import importlib
import pydoc
import re

import pytest

from tests.documents.conftest import Library

MODULES = [
    "json",
    "csv",
    "shutil",
    "textwrap",
    "heapq",
    "bisect",
    "secrets",
    "statistics",
    "fractions",
    "gzip",
    "tempfile",
    "glob",
    "fnmatch",
    "calendar",
    "difflib",
    "zipfile",
]

# (question, module, a name the answering chunk must contain)
QUESTIONS = [
    ("How do I convert a Python object to a JSON string?", "json", "dumps"),
    ("Parse JSON text that is stored in a file object", "json", "load"),
    ("Read a CSV file so that each row comes back as a dictionary keyed by the column names", "csv", "DictReader"),
    ("How do I write rows of data to a CSV file?", "csv", "writer"),
    ("Copy a directory together with all of its files and subdirectories", "shutil", "copytree"),
    ("Delete a directory together with all of its contents", "shutil", "rmtree"),
    ("Relocate a file or folder to somewhere else on disk", "shutil", "move"),
    ("How can I check how much free space a disk has?", "shutil", "disk_usage"),
    ("Locate the full path of a program that can be run from the command line", "shutil", "which"),
    ("Find out how many columns and lines the console window has", "shutil", "get_terminal_size"),
    ("Break a long paragraph into lines no wider than a given number of characters", "textwrap", "wrap"),
    ("Strip the indentation that every line of a block of text shares", "textwrap", "dedent"),
    ("Efficiently get the few lowest elements of a big collection", "heapq", "nsmallest"),
    ("Combine several already ordered inputs into one ordered stream", "heapq", "merge"),
    ("Put a new item into a list that is kept in order without sorting again", "bisect", "insort"),
    ("Create a hard to guess token that is safe to put in a web address", "secrets", "token_urlsafe"),
    ("Pick a random whole number below a limit, suitable for security purposes", "secrets", "randbelow"),
    ("The middle value of a set of numbers", "statistics", "median"),
    ("How spread out is a sample of data around its average?", "statistics", "stdev"),
    ("Which value appears most often in the data?", "statistics", "mode"),
    ("Represent a ratio exactly as a numerator and a denominator", "fractions", "Fraction"),
    ("Shrink bytes with the same algorithm the gzip program uses", "gzip", "compress"),
    ("A scratch file that disappears as soon as it is closed", "tempfile", "TemporaryFile"),
    ("Make a throwaway folder that is cleaned up automatically", "tempfile", "TemporaryDirectory"),
    ("List every path that matches a pattern with wildcards such as *.txt", "glob", "glob"),
    ("Test whether a file name matches a shell style pattern", "fnmatch", "fnmatch"),
    ("How can I tell whether a year is a leap year?", "calendar", "isleap"),
    ("What weekday does a month start on and how many days does it have?", "calendar", "monthrange"),
    ("Find the words in a list that are the closest matches to a misspelled word", "difflib", "get_close_matches"),
    ("Show the changes between two versions of a text the way patch files do", "difflib", "unified_diff"),
    ("Get the names of the files stored inside an archive", "zipfile", "namelist"),
    ("Unpack every member of an archive into a folder", "zipfile", "extractall"),
]


@pytest.fixture(scope="module")
def reference(shared_library: Library, tmp_path_factory: pytest.TempPathFactory) -> Library:
    folder = tmp_path_factory.mktemp("pydoc")
    for name in MODULES:
        # Object addresses (" at 0x7f…") change from run to run; without them the corpus is the same each time.
        text = re.sub(r" at 0x[0-9a-f]+", "", pydoc.render_doc(importlib.import_module(name), renderer=pydoc.plaintext))
        (folder / f"{name}.txt").write_text(text, encoding="utf-8")
    report = shared_library.library.add([folder], "stdlib")
    assert report.count("added") == len(MODULES)
    shared_library.library.start_loading()
    assert shared_library.library.wait_ready(120)
    return shared_library


def _recall(library: Library, mode: str) -> tuple[float, list[str]]:
    missed = []
    for question, module, name in QUESTIONS:
        hits = library.library.search(question, ["stdlib"], top=5, mode=mode)
        if not any(h.document == f"{module}.txt" and name in h.text for h in hits):
            missed.append(question)
    return 1 - len(missed) / len(QUESTIONS), missed


@pytest.mark.slow
def test_hybrid_recall_at_5_beats_plain_bm25(reference: Library, record_property: pytest.RecordProperty) -> None:
    hybrid, missed = _recall(reference, "hybrid")
    keyword, _ = _recall(reference, "keyword")
    vector, _ = _recall(reference, "vector")
    chunks = sum(d.chunks for d, _ in reference.library.documents("stdlib"))
    line = (
        f"recall@5 over {len(QUESTIONS)} paraphrased questions, {chunks} chunks of pydoc output: "
        f"hybrid {hybrid:.3f}, plain BM25 {keyword:.3f}, vectors alone {vector:.3f}"
    )
    print("\n" + line)
    record_property("recall_at_5", {"hybrid": hybrid, "bm25": keyword, "vector": vector})
    assert hybrid >= 0.9, (line, missed)  # the target is 0.93: not reached (see the docstring)
    assert hybrid >= keyword + 0.10, line
