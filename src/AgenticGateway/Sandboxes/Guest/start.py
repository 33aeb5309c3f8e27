"""Starts the sandbox agent (agent.py) as a module, so that Python loads it from the bytecode the gateway compiled
into __pycache__ beside it (GuestFiles.Precompile) instead of compiling ~2000 lines at every sandbox start, as it does
for a script. Without a valid cache Python compiles the source as before; the directory is read-only, so nothing is
written. Run as `/usr/bin/python3 -I -S /opt/agw/start.py`."""
import sys

sys.path.insert(0, __file__.rpartition("/")[0] or ".")     # -I leaves the script's directory out
import agent  # noqa: E402

agent.main()
