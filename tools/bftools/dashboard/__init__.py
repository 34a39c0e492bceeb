"""bftools.dashboard: the sales dashboard without Grafana.

redisds.py    what Grafana's Redis data source does with a panel's target (the command, the data frame),
              in Python: the chart tests and the integration tests check every panel through it
snapshot.py   the dashboard drawn into a PNG from those same queries (make snapshot, make demo)
"""
