"""An example dlbench plugin (docs/extending.md): the `fused_mlp_layer` workload and the
`numexpr` backend, registered through the `dlbench.workloads` and `dlbench.backends`
entry-point groups of this package's pyproject.toml."""
