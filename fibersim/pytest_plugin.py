"""pytest plugin shipped with fibersim (entry point ``pytest11``); fixtures arrive with issue 7."""
