"""The benchmark of issue 6: this registry against the reference registry, same workload, same run."""
