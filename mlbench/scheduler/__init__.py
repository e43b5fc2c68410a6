"""The scheduler process: fires schedules and delivers notifications, without Jupyter.

Started on demand (``ws.schedules.scheduler().ensure_running()``), by ``mlbench scheduler
start``, or as a user service (``mlbench service install``). A face over the core, like the
agent: it opens the workspace with agents, so a fired job starts its compute target's agent.
"""
