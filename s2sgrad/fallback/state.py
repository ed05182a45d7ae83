"""How many traces are running their function now.

Generated code and the driver check their arguments for boxes (and run a traced
copy of themselves) only while this is not zero.  It is its own module so that
reading it loads neither the tracer nor the rule library.
"""

RUNNING = [0]
