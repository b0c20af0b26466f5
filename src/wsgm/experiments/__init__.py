"""Paper experiments: step sweeps, reproductions with reports, and the demo."""
