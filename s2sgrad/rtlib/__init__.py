"""Runtime helpers of the wider rule library, re-exported by ``s2sgrad.runtime``."""
