"""``python -m workflows`` runs the zeekflow command."""

from .cli import entry

if __name__ == "__main__":
    entry()
