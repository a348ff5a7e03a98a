"""One spaCy pipeline per test session: loading it costs a second and ~200 MB, and the machine is shared."""

from __future__ import annotations

import pytest
from spacy.language import Language

from newsrift.stages.extract import load_nlp


@pytest.fixture(scope="session")
def nlp() -> Language:
    return load_nlp()
