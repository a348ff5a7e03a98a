"""The stages, one package each: a pure core, a ``step`` that both drivers call and a thin Faust ``agent``.

``normalize`` (with ``extract``, spaCy's claims), ``dedupe`` and ``events`` (reprints and events, one ordered
partition), ``disputes``, ``alerts`` and ``index`` (the Elasticsearch documents of every output topic). A stage
imports the bottom layer (``newsrift.model``, ``messages``, ``errors``, ``settings``, ``lexicons``, ``topics``,
``streaming``, ``dead_letters``) and ``newsrift.stages.context``; its ``agent`` binds its step to the runtime.
"""
