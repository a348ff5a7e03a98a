"""analyse_articles: raw feed items (news.articles.raw.v1) -> analysed articles (news.articles.v1)."""

from __future__ import annotations

from functools import partial

from newsrift import topics
from newsrift.runtime.runner import Runtime
from newsrift.stages.normalize.step import Analyser, analyse


def register(rt: Runtime) -> None:
    step = partial(analyse, Analyser(rt.settings.nlp_processes))
    rt.batch_stage("analyse_articles", topics.RAW_ARTICLES, step, size=64, within=0.5)
