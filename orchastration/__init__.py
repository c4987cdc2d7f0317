"""orchastration: deterministic, auditable local jobs, tasks and agent pipelines on doit."""

__version__ = "3.0.0"
