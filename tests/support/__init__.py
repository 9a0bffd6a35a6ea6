"""Fixtures, fakes and helpers the tests share (never imported by the code under test)."""
