"""The error every part of curation raises for a config or an input that cannot run."""

from __future__ import annotations


class ConfigError(ValueError):
    """A config that cannot run. `problems` lists every problem found, each naming the key and
    the valid choices."""

    def __init__(self, problems: str | list[str]) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        if len(self.problems) == 1:
            message = self.problems[0]
        else:
            lines = "\n".join(f"  - {problem}" for problem in self.problems)
            message = f"{len(self.problems)} problems:\n{lines}"
        super().__init__(message)
