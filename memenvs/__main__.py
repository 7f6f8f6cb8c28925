import sys

from memenvs.cli import main

sys.exit(main())
