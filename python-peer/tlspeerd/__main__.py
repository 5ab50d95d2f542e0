"""`python -I -m tlspeerd`: serve the control protocol on stdin and stdout until told to
shut down, then end at once: tearing the interpreter down (every object of the run
freed one by one) took 40 ms that the harness waited for at the end of every run."""
import os
import sys

from tlspeerd.serve import main

main()
sys.stdout.flush()
sys.stderr.flush()
os._exit(0)
