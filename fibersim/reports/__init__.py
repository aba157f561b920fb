"""Reports stage: console lines and summary table, JUnit XML and the JSON timeline.

All of them render a ``RunResult`` and nothing else, so they agree on the facts; URLs in
them are already redacted by the runner, and nothing here sees a credential.
"""

from fibersim.reports.console import ConsoleReporter
from fibersim.reports.files import write_json_report, write_junit

__all__ = ["ConsoleReporter", "write_json_report", "write_junit"]
