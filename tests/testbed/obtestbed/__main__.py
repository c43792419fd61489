import sys

from obtestbed.cli import main

sys.exit(main())
