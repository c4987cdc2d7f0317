"""The output cache (docs/cache.md): content-addressed results of jobs and task builds, kept in a local
directory and optionally a shared fsspec store, restored instead of running a command again."""
