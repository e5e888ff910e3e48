"""Governance policies: loading the Rego pack, running it on an engine, and
turning what the rules return into findings."""
