"""analyse_articles: raw feed items (news.articles.raw.v1) -> analysed articles (news.articles.v1)."""

from __future__ import annotations

from functools import partial

from pipeline import topics
from pipeline.normalize.step import Analyser, analyse
from pipeline.runner import Runtime


def register(rt: Runtime) -> None:
    step = partial(analyse, Analyser(rt.settings.nlp_processes))
    rt.batch_stage("analyse_articles", topics.RAW_ARTICLES, step, size=64, within=0.5)
