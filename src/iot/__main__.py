"""``python -m iot`` = ``rollcall-iot``."""

import sys

from .cli import main

sys.exit(main())
