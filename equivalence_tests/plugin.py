"""pytest plugin placeholder (filled in by the equivalence suite)."""
