"""`python -m jobs.client run|status|result|cancel ...`."""

import sys

from jobs.client.cli import main

if __name__ == "__main__":
    sys.exit(main())
