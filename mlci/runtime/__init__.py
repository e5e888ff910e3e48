"""Runtime commands the rendered pipelines call: gate, run (and later lineage, drift)."""
