"""`python -m sagegan` (also `torchrun --nproc_per_node N -m sagegan train ...`)."""

import sys

from sagegan.cli import main

if __name__ == "__main__":
    sys.exit(main())
