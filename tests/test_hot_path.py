"""The bulk shortcuts of the hot path give exactly what the per-value rules give."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflows.concat import OrderedConcat, aborted_on_error
from workflows.render import BlockConverter, _numbers_repr, _numbers_text
from workflows.schema import Column

numbers = st.one_of(
    st.none(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(min_value=1e-6, max_value=2e-4),  # where orjson and repr write floats differently
    st.floats(min_value=1e15, max_value=1e17),
)


@settings(max_examples=300)
@given(st.lists(numbers, min_size=1, max_size=40))
def test_a_column_of_numbers_renders_as_repr(values: list) -> None:
    texts = _numbers_text(values)
    expected = ["" if v is None else repr(v) for v in values]
    assert (texts or _numbers_repr(values)) == expected


def test_exponents_and_tiny_floats_fall_back_to_repr() -> None:
    assert _numbers_text([1.5, 2.5e-05]) is None
    assert _numbers_text([1e16]) is None
    assert _numbers_text([2**70]) is None  # beyond orjson's 64-bit integers
    assert _numbers_text([1, None, 0.0001, 1591367999.305988]) == ["1", "", "0.0001", "1591367999.305988"]


def test_a_line_with_two_closing_braces_still_goes_through_the_separator_check() -> None:
    # Each line looks like one object, yet the second holds two: the block must not parse as a whole.
    block = b'{"uid":"a"}\n{"uid":"b"},{"uid":"c"}\n{"uid":"d\\n}"}\n'
    result = BlockConverter([Column("uid", "string")], "x").convert(block, 0)
    assert (result.rows, result.rejected) == (2, 1)
    assert result.csv == b'a\n"d\n}"\n'


def test_shards_are_joined_in_index_order_whatever_order_they_finish_in(tmp_path) -> None:
    parts = []
    for i in range(5):
        part = tmp_path / f"part-{i}"
        part.write_bytes(f"row {i}\n".encode() * (i + 1))
        parts.append(str(part))
    out = tmp_path / "out.csv"
    joined = OrderedConcat(str(out), b"header\n")
    for i in (3, 1, 0, 4, 2):
        joined.add(i, parts[i])
    assert joined.finish(5) == len(b"header\n") + sum(len(open(p, "rb").read()) for p in parts)
    assert out.read_bytes() == b"header\n" + b"".join(open(p, "rb").read() for p in parts)
    assert not (tmp_path / "out.csv.tmp").exists()


def test_a_join_with_a_missing_shard_cannot_finish_and_leaves_nothing(tmp_path) -> None:
    part = tmp_path / "part-1"
    part.write_bytes(b"x\n")
    out = tmp_path / "out.csv"
    joined = OrderedConcat(str(out))
    with pytest.raises(ValueError, match="0 of 2 shards"):
        with aborted_on_error(joined):
            joined.add(1, str(part))
            joined.finish(2)
    assert list(tmp_path.iterdir()) == [part]


def test_blocks_reserved_for_an_append_leave_the_file_as_it_was(tmp_path) -> None:
    import os

    from workflows.preallocate import reserve

    path = tmp_path / "out.csv.tmp"
    path.write_bytes(b"header\n")
    with open(path, "r+b") as out:
        reserved = reserve(out.fileno(), 7, 4 * 2**20)
        after = os.fstat(out.fileno())
    # The size, and so the join's offsets, stay; where the filesystem takes the call, the blocks are there.
    assert after.st_size == 7 and path.read_bytes() == b"header\n"
    assert (after.st_blocks * 512 >= 4 * 2**20) == reserved


def _malloc_environ() -> tuple[str | None, str | None]:
    import os

    return os.environ.get("MALLOC_MMAP_THRESHOLD_"), os.environ.get("MALLOC_TRIM_THRESHOLD_")


@pytest.mark.cluster
def test_local_cluster_workers_keep_glibc_fast_for_big_buffers() -> None:
    from distributed import LocalCluster

    from workflows.cluster import WORKER_MALLOC_ENVIRON, open_client

    # A plain LocalCluster first: Dask leaves its own MALLOC_TRIM_THRESHOLD_ in this process's environment.
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None):
        pass
    # Worker processes: threads of this process get the thresholds from mallopt instead (set_malloc_thresholds).
    with open_client(workers=1, worker_kind="processes") as client:
        seen = set(client.run(_malloc_environ).values())
    assert seen == {(str(WORKER_MALLOC_ENVIRON["MALLOC_MMAP_THRESHOLD_"]),
                     str(WORKER_MALLOC_ENVIRON["MALLOC_TRIM_THRESHOLD_"]))}


@pytest.mark.cluster
def test_the_embedded_local_cluster_serves_its_dashboard_on_loopback_with_the_workers_asked_for() -> None:
    # The Bokeh pages are mounted by the first request for them (OnDemandDashboard).
    import urllib.request

    from workflows.cluster import dashboard_link, open_client, worker_count

    with open_client(workers=2) as client:
        workers = worker_count(client)
        link = dashboard_link(client)
        assert link and link.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(link, timeout=60) as page:
            status = page.read().decode("utf-8", "replace")
        with urllib.request.urlopen(link.replace("/status", "/tasks"), timeout=30) as page:
            tasks_status = page.status
    assert workers == 2
    assert "bokeh" in status.lower() and tasks_status == 200


def _log_lengths(dask_worker) -> tuple[int, int]:
    return dask_worker.profile_history.maxlen, dask_worker.profile_keys_history.maxlen


@pytest.mark.cluster
@pytest.mark.parametrize("worker_kind", ["threads", "processes"])
def test_embedded_workers_keep_short_logs_so_their_memory_stays_flat(worker_kind) -> None:
    # A profile a second per worker, kept up to the log length: Dask's 1,000 grew a worker for 17 minutes.
    from workflows.cluster import EMBEDDED_LOG_SETTINGS, open_client

    length = EMBEDDED_LOG_SETTINGS["distributed.admin.low-level-log-length"]
    with open_client(workers=1, worker_kind=worker_kind) as client:
        kept = set(client.run(_log_lengths).values())
        scheduler = client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.transition_log.maxlen)
    assert kept == {(length, length)} and scheduler == length <= 100
