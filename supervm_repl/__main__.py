"""``python -m supervm_repl``: the same as the ``supervm-repl`` command."""

import sys

from .cli import main

sys.exit(main())
