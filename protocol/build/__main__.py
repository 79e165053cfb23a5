import sys

from protocol.build import main

sys.exit(main())
