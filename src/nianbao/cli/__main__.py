"""``python -m nianbao.cli``."""

from .app import main

main()
