"""Plan: the vocabulary (model), the pure planner (diff, planner), renderers and the saved plan file."""
