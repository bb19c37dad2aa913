from delivrd.cli import main

raise SystemExit(main())
