from megforge.cli import main

raise SystemExit(main())
