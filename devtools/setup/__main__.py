from devtools.setup.cli import main

raise SystemExit(main())
