"""The book's convolution as the chapter writes it: loops.py (loops, kernel-centric), im2col.py ('book')."""
