from gradflow.cli import main

raise SystemExit(main())
