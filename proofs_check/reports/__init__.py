"""The experiments ``gfgd report`` runs and draws: :mod:`.momentum` (wide two-layer ReLU nets trained
with GD, heavy ball and Nesterov against the BXC21 ODE predictions)."""
