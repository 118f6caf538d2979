"""``python -m vleval.cli``: the `vleval` command."""

import sys

from vleval.cli.app import main

sys.exit(main())
