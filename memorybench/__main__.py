"""``python -m memorybench``: the same command line as the ``memorybench`` script."""

from memorybench.cli import main

if __name__ == "__main__":
    main()
