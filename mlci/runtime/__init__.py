"""Runtime commands the rendered pipelines call: gate, run, lineage and drift.

Imported only by those commands: `mlci check` and `mlci render` never load numpy or scipy."""
