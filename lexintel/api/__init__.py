"""HTTP resources, one module each. Handlers stay thin: they validate, call the store or pipeline, shape JSON."""
