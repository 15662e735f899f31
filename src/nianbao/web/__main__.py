"""Child-process entry of the web app's background jobs: ``python -m nianbao.web batch|aggregate DIR``."""

import sys

from .jobs import main

sys.exit(main(sys.argv[1:]))
