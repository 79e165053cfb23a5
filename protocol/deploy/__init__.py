"""Deployment, separate from the client: a plan as data (:mod:`protocol.deploy.plan`), carried
out on a chain (:func:`deploy`), then driven by :meth:`protocol.venue.Venue.attach`."""

from protocol.deploy.deployer import Deployment, deploy
from protocol.deploy.plan import LIBRARIES, Call, DeploymentPlan, MarketModule, Ref, Role, Step, venue_plan

__all__ = ["LIBRARIES", "Call", "Deployment", "DeploymentPlan", "MarketModule", "Ref", "Role", "Step", "deploy",
           "venue_plan"]
