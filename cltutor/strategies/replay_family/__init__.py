"""The replay family beyond plain replay: the baselines papers compare against.

- :mod:`~cltutor.strategies.replay_family.online`: ``OnlineReplayPlugin`` / ``OnlineReplay``,
  experience replay with a reservoir updated every minibatch (Algorithm R).
- :mod:`~cltutor.strategies.replay_family.gdumb`: ``GDumbPlugin`` / ``GDumb``, a
  class-balanced memory and a model retrained from scratch on it alone.
- :mod:`~cltutor.strategies.replay_family.der`: ``DERPlugin`` / ``DER`` (DER++ with
  ``beta > 0``), replaying stored logits and labels; ``der_loss``.
- :mod:`~cltutor.strategies.replay_family.icarl`: ``ICaRL``, herding exemplars,
  distillation and the nearest-mean-of-exemplars classifier; ``icarl_loss``.
"""

from cltutor.strategies.replay_family.der import DER, DERPlugin, der_loss
from cltutor.strategies.replay_family.gdumb import GDumb, GDumbPlugin, reset_weights
from cltutor.strategies.replay_family.icarl import ICaRL, icarl_loss
from cltutor.strategies.replay_family.online import OnlineReplay, OnlineReplayPlugin

__all__ = [
    "OnlineReplay",
    "OnlineReplayPlugin",
    "GDumb",
    "GDumbPlugin",
    "reset_weights",
    "DER",
    "DERPlugin",
    "der_loss",
    "ICaRL",
    "icarl_loss",
]
