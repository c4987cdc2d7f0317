"""The task workflow: plan, build, review record, doc and git actions over config and state.

``Workflow`` (``facade.py``) is what the CLI (``plan``, ``build``, ``doc``, ``git``) and the
built-in agents call; each action lives in the module named after it (``plan.py``, ``build.py``,
``review.py``, ``doc.py``, ``gitops.py``) and returns an outcome value, never printing or exiting.
"""

from __future__ import annotations

from orchastration.workflow.build import BuildOutcome
from orchastration.workflow.doc import DocOutcome
from orchastration.workflow.facade import Workflow
from orchastration.workflow.gitops import BranchOutcome, IssueOutcome
from orchastration.workflow.records import TaskRecord

__all__ = ["Workflow", "TaskRecord", "BuildOutcome", "DocOutcome", "BranchOutcome", "IssueOutcome"]
