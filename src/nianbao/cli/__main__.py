"""``python -m nianbao.cli``."""

from .commands import main

main()
