"""Entry point of the bundled `enclave` executable: the same `main` as the console script."""

import sys

if __name__ == "__main__":
    if sys.argv[1:2] == ["--enclave-sandbox-child"]:  # engine.sandbox.pool.CHILD_FLAG: a sandbox process
        from engine.sandbox.child import main as sandbox_child

        sandbox_child()
        sys.exit(0)
    from engine.cli import main

    sys.exit(main())
