"""``python -m workflows`` runs the zeekflow command."""

from .cli import main

if __name__ == "__main__":
    main()
