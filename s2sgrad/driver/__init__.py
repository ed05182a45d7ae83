"""The driver: one request (``request.Request``) run through one stage list
(``pipeline``) and one cache (``cache``); the route chooser (``routes``) and the
dynamic dispatcher that generated code calls back into (``dynamic``).

It sits between the surface (the operators, the CLI) and the compiler (pure AST
passes), importing only downward.  This file imports nothing.
"""
