"""Speed, memory and coverage studies. Run all with `make bench` or one with
`python benchmarks/bench_<topic>.py`. They print figures; tests never assert on time."""
