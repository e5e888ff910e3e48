from __future__ import annotations

from mlci.cli import main

if __name__ == "__main__":
    main()
