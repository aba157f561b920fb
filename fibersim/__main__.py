"""Allow ``python -m fibersim``."""

from fibersim.cli.main import main

main()
