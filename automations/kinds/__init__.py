"""One home per kind: the registries of action kinds, trigger kinds and condition operators.

Each kind is one spec object (``ActionKind``, ``TriggerKind``, ``OperatorKind``) in its registry. The
validators, the builder form, the summaries, the choices and the API schema read these registries;
nothing else lists the kinds. The registry modules import nothing of the project but ``choices``, so
every consumer may import them; the built-in specs (``builtin_*``), which point at functions in the
validators and summaries, are registered by ``AutomationsConfig.ready()`` together with the host
project's ``AUTOMATIONS["ACTION_KINDS"]``. See docs/extending.md.
"""
