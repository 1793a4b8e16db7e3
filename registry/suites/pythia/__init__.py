"""The Pythia suite (EleutherAI/pythia-*): naming, architecture arithmetic, catalog builder."""
