"""`python -m reconciler` is the same as the `reconciler` console script (reconciler/entry.py)."""

from reconciler.entry import main

if __name__ == "__main__":
    main()
