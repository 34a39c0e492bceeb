"""bftools.runtime: what several of the tools share.

paths.py     where things are: the checkout, its caches and state, the programs the tools start
ports.py     free ports, and a clear message for a taken one
process.py   background processes: started with a log, checked and stopped by pid, tied to the run
"""
