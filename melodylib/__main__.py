"""`python -m melodylib` is the same as the `melody_rnn` command."""

import sys

from melodylib.cli.main import main

sys.exit(main())
