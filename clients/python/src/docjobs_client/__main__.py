"""`python -m docjobs_client run|status|result|cancel ...`, the same as the `docjobs` command."""

import sys

from docjobs_client.cli import main

if __name__ == "__main__":
    sys.exit(main())
