from comeback.cli.main import main

raise SystemExit(main())
