"""A stand-in for a coding-agent CLI (``claude -p --output-format json``, ``codex exec``...), so the
``coding_agent`` example of config.example.toml runs anywhere, for free (docs/orchestrations.md).

Like the real ones it reads its prompt on stdin, edits files in the current directory, and prints a JSON
result line with its cost. ``plan`` plans the task, ``code`` writes login.py (with a bug, unless the prompt
shows failing tests), ``doc`` writes CHANGES.md.
"""

import json
import os
import sys
from pathlib import Path

GOOD = 'def login(user, password):\n    return user == "demo" and password == "secret"\n'
BUGGY = 'def login(user, password):\n    return user == "demo"\n'


def main() -> int:
    role = sys.argv[1] if len(sys.argv) > 1 else ""
    prompt = sys.stdin.read()
    if role == "plan":
        result = "1. write login(user, password) in login.py  2. make test_login.py pass"
        out = os.environ.get("ORCHASTRATION_CONTEXT_OUT")
        task = os.environ.get("ORCHASTRATION_TASK")
        if out and task:  # the planned tasks are what the Reviewer reviews
            Path(out).write_text(json.dumps({"plan.tasks": [task]}), encoding="utf-8")
    elif role == "code":
        fixing = "FAILED" in prompt
        Path("login.py").write_text(GOOD if fixing else BUGGY, encoding="utf-8")
        result = "fixed login.py from the failing tests" if fixing else "wrote login.py"
    elif role == "doc":
        Path("CHANGES.md").write_text(f"# Changes\n\n{prompt.strip()}\n", encoding="utf-8")
        result = "wrote CHANGES.md"
    else:
        print(json.dumps({"result": f"unknown role {role!r}", "is_error": True}))
        return 0
    usage = {"input_tokens": len(prompt.split()), "output_tokens": len(result.split())}
    print(json.dumps({"result": result, "total_cost_usd": 0.01, "usage": usage, "session_id": f"stub-{role}"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
