"""The accept board: what workers post, and when one leaves a new connection to another."""

import os
import time

import pytest

from pyhttpd.ipc import accept_board
from pyhttpd.ipc.accept_board import AcceptBoard, AcceptPolicy


@pytest.fixture
def board():
    fd, board = AcceptBoard.create()
    yield board
    board.close()
    os.close(fd)


def test_a_worker_sees_the_fewest_connections_of_the_others_that_accept(board):
    board.post(0, 9, True)
    board.post(1, 4, True)
    board.post(2, 1, False)  # retiring: not a candidate
    board.post(3, 6, True)
    assert board.fewest_elsewhere(0, 4) == 4
    assert board.fewest_elsewhere(1, 4) == 6
    assert board.fewest_elsewhere(0, 1) is None  # no other worker
    assert board.fewest_elsewhere(0, 2) == 4


def test_a_worker_that_stopped_posting_does_not_count(board, monkeypatch):
    board.post(1, 0, True)
    later = time.monotonic() + accept_board.FRESH_S + 1
    monkeypatch.setattr(accept_board.time, "monotonic", lambda: later)
    assert board.fewest_elsewhere(0, 2) is None


def test_the_board_is_shared_through_its_fd():
    fd, board = AcceptBoard.create()
    other = AcceptBoard(os.dup(fd))
    try:
        board.post(1, 7, True)
        assert other.fewest_elsewhere(0, 2) == 7
    finally:
        board.close()
        other.close()
        os.close(fd)


def test_a_worker_ahead_waits_a_moment_then_takes_the_connection_itself(board):
    board.post(1, 3, True)
    policy = AcceptPolicy(board, 0, 2)
    assert policy.wait_before_accepting(4) == 0.0  # within the slack
    wait_s = policy.wait_before_accepting(5)
    assert 0 < wait_s <= accept_board.DEFER_S
    deadline = time.monotonic() + 5
    while policy.wait_before_accepting(5) and time.monotonic() < deadline:
        time.sleep(accept_board.DEFER_S / 4)
    assert policy.wait_before_accepting(5) > 0  # the next pending one: a new wait begins
    board.post(1, 9, True)  # the other one caught up
    assert policy.wait_before_accepting(5) == 0.0


def test_a_worker_index_beyond_the_board_is_not_balanced(board):
    board.post(accept_board.ROWS, 1, True)  # ignored, not an error
    policy = AcceptPolicy(board, accept_board.ROWS + 1, accept_board.ROWS + 2)
    assert policy.wait_before_accepting(100) == 0.0


def test_a_wait_left_by_a_connection_another_worker_took_starts_afresh(board, monkeypatch):
    board.post(1, 0, True)
    policy = AcceptPolicy(board, 0, 2)
    assert policy.wait_before_accepting(5) > 0  # waiting; then the other worker takes it
    later = time.monotonic() + 0.5  # the next connection comes half a second later
    monkeypatch.setattr(accept_board.time, "monotonic", lambda: later)
    assert policy.wait_before_accepting(5) == accept_board.DEFER_S  # a whole wait, not none
