from delivrd.cli.main import main

raise SystemExit(main())
