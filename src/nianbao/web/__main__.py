"""Child-process entry of the web app's background jobs: ``python -m nianbao.web batch|aggregate DIR``."""

import sys

from .jobs import main

if __name__ == "__main__":  # a pool process that imports this module must not start a job
    sys.exit(main(sys.argv[1:]))
