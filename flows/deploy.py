"""Entry point: ``python -m flows.deploy`` serves the deployments of :mod:`dpaudit.flows.deploy`."""
from dpaudit.flows.deploy import *  # noqa: F401,F403
from dpaudit.flows.deploy import __all__, main

if __name__ == "__main__":  # pragma: no cover
    main()
