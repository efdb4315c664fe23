"""The fast rooms: memory.py (what they share) and one module per algorithm 'auto' chooses from."""
