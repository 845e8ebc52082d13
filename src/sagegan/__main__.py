"""`python -m sagegan` (also `torchrun --nproc_per_node N -m sagegan train ...`)."""

import sys

from sagegan.cli import main

sys.exit(main())
