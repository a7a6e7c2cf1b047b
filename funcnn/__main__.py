import sys

from funcnn.cli import main

sys.exit(main())
