//! Fixtures the tests share.
