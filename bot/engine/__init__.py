"""The job engine: one poller loop per process (poller.py) that submits (submit.py), polls on an
adaptive schedule (schedule.py, fairness.py), downloads and delivers (deliver.py) every job, and
`JobService` (service.py), what the commands call. It knows the store only as `JobStore`
(bot/domain/store.py) and Discord only as the `Publisher` port (ports.py); `build_engine`
(wiring.py) puts it together. Map: docs/ARCHITECTURE.md."""
