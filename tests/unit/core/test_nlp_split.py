"""How a batch is shared among NLP processes: in order, nothing lost, nothing repeated, no empty chunk."""

from hypothesis import given
from hypothesis import strategies as st

from newsrift.stages.normalize.pipeline import split


def test_chunks_are_contiguous_and_nearly_equal() -> None:
    assert split(list(range(7)), 3) == [[0, 1, 2], [3, 4], [5, 6]]
    assert split([1, 2], 4) == [[1], [2]]
    assert split([1, 2, 3], 0) == [[1, 2, 3]]


@given(st.lists(st.integers(), max_size=200), st.integers(min_value=-2, max_value=40))
def test_concatenating_the_chunks_gives_the_batch_back(items: list[int], parts: int) -> None:
    chunks = split(items, parts)
    assert [x for c in chunks for x in c] == items
    assert all(chunks) or items == []
    sizes = [len(c) for c in chunks]
    assert not sizes or max(sizes) - min(sizes) <= 1
