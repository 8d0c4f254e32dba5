"""``python -m bassline`` runs the CLI."""

import sys

from bassline.cli.app import main

sys.exit(main())
