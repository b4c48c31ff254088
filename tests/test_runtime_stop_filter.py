"""The stop filter cuts at the stop string that comes first in the text, and says which one it was."""

from __future__ import annotations

from engine.runtime.loaded import StopFilter


def test_the_earliest_stop_string_wins_and_is_named() -> None:
    stops = StopFilter(("END", "b"))
    assert stops.feed("a") == ("a", False) and stops.matched is None
    assert stops.feed("bcEND") == ("", True)  # "b" comes before "END" in the text, though listed second
    assert stops.matched == "b"


def test_a_stop_split_across_pieces_is_held_back_then_cut() -> None:
    stops = StopFilter(("STOP",))
    assert stops.feed("text ST") == ("text ", False)
    assert stops.feed("OP and more") == ("", True) and stops.matched == "STOP"
