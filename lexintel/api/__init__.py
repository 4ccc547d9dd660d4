"""HTTP resources, one module each. Handlers stay thin: they validate, call the store or pipeline, and return the
bodies of :mod:`lexintel.api.models`; :mod:`lexintel.api.errors` turns domain errors into statuses and
:mod:`lexintel.api.openapi` completes what the schema says."""
