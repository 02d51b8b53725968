"""The benchmarks (bench/README.md). A package so `from bench._common import …` resolves and the import
contracts can check that nothing here imports `tests`."""
