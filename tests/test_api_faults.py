"""A stressed API server: throttling, flaky 5xx, HTML error pages, hangs and drips.

Each fault is reproduced by the fake API server and met by the real client. The bounds asserted on
elapsed time prove that --request-timeout holds (no hang); they are not speed measurements.
"""

from __future__ import annotations

import time

from tests.conftest import objects_of, scenario_files

WORLD = scenario_files("workloads/ready")


def check(doc: dict, code: str) -> dict:
    return next(c for c in doc["checks"] if c["code"] == code)


def endpoints_requests(cluster) -> int:
    return len(cluster.api.requests_for("/namespaces/bookinfo/endpoints"))


def test_throttling_with_retry_after_is_waited_out(live):
    cluster = live(objects_of(WORLD), throttle={"endpoints": (1, "1")})
    started = time.monotonic()
    result = cluster.run("host", "reviews", "-n", "bookinfo", "-o", "json")
    assert result.exit_code == 0 and check(result.json(), "MD506")["status"] == "passed"
    assert endpoints_requests(cluster) == 2
    assert time.monotonic() - started >= 1.0  # Retry-After: 1 was honoured


def test_throttling_without_retry_after_backs_off_then_succeeds(live):
    cluster = live(objects_of(WORLD), throttle={"endpoints": (2, "")})
    result = cluster.run("host", "reviews", "-n", "bookinfo", "-o", "json")
    assert result.exit_code == 0 and endpoints_requests(cluster) == 3


def test_endless_throttling_is_bounded_and_reported_as_skipped(live):
    cluster = live(objects_of(WORLD), throttle={"endpoints": (100, "")})
    started = time.monotonic()
    result = cluster.run("host", "reviews", "-n", "bookinfo", "-o", "json", "--request-timeout", "3s")
    md506 = check(result.json(), "MD506")
    assert md506["status"] == "skipped" and "HTTP 429" in md506["reason"]
    assert result.exit_code == 4
    assert endpoints_requests(cluster) <= 4 and time.monotonic() - started < 8


def test_one_server_error_is_retried_two_are_reported(live):
    once = live(objects_of(WORLD), flaky={"endpoints": 1})
    assert once.run("host", "reviews", "-n", "bookinfo").exit_code == 0
    twice = live(objects_of(WORLD), flaky={"endpoints": 2})
    result = twice.run("host", "reviews", "-n", "bookinfo", "-o", "json")
    assert check(result.json(), "MD506")["status"] == "skipped" and result.exit_code == 4
    assert endpoints_requests(twice) == 2


def test_html_error_page_is_an_invalid_response_not_a_crash(live):
    cluster = live(objects_of(WORLD), garbage=frozenset({"endpoints"}))
    result = cluster.run("host", "reviews", "-n", "bookinfo", "-o", "json")
    assert "invalid response from the API server" in check(result.json(), "MD506")["reason"]
    assert result.exit_code == 4 and "Traceback" not in result.stderr


def test_a_collection_that_never_answers_times_out_and_the_rest_is_reported(live):
    cluster = live(objects_of(WORLD), hang=frozenset({"pods"}))
    started = time.monotonic()
    result = cluster.run("host", "reviews", "-n", "bookinfo", "-o", "json", "--request-timeout", "2s")
    elapsed = time.monotonic() - started
    doc = result.json()
    assert check(doc, "MD502")["status"] == "skipped" and "timed out" in check(doc, "MD502")["reason"]
    assert check(doc, "MD506")["status"] == "passed"
    assert result.exit_code == 4 and elapsed < 8


def test_a_server_that_drips_bytes_hits_the_total_deadline(live):
    cluster = live(objects_of(WORLD), drip=frozenset({"endpoints"}))
    started = time.monotonic()
    result = cluster.run("host", "reviews", "-n", "bookinfo", "-o", "json", "--request-timeout", "2s")
    elapsed = time.monotonic() - started
    md506 = check(result.json(), "MD506")
    assert md506["status"] == "skipped" and "too slowly" in md506["reason"]
    assert result.exit_code == 4 and elapsed < 8
