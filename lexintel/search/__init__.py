"""Search (issue 14): query parsing, keyword ranking, rank fusion with semantic results, and the service the
API and the benchmark call (:mod:`lexintel.search.service`)."""
