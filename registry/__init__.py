"""The checkpoint catalogs: schema, queries, suites (Gemstones, Pythia: naming, architecture, builders), Hub."""
