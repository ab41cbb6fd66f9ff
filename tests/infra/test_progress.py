"""``recalib.infra.progress``: a bar on a terminal, none in a log or a pipe, none when turned off."""
from __future__ import annotations

import io

from recalib.infra.progress import progress_bar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def drawn(stream: io.StringIO, show: bool) -> str:
    for _ in progress_bar(range(3), show=show, desc="epochs", file=stream, mininterval=0):
        pass
    return stream.getvalue()


def test_a_bar_is_drawn_on_a_terminal_with_its_label_and_count() -> None:
    assert "epochs" in drawn(Terminal(), show=True) and "3/3" in drawn(Terminal(), show=True)


def test_no_bar_in_a_file_or_pipe_nor_when_progress_is_off() -> None:
    assert drawn(io.StringIO(), show=True) == ""
    assert drawn(Terminal(), show=False) == ""


def test_a_bar_advanced_by_hand_counts_its_steps() -> None:
    stream = Terminal()
    with progress_bar(total=4, show=True, desc="latency audit", file=stream, mininterval=0) as bar:
        bar.update(4)
    assert "4/4" in stream.getvalue()
