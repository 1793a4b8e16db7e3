"""The Gemstones suite (tomg-group-umd/Gemstone-*): naming, architecture arithmetic, catalog builder."""
