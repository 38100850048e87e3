//! Typed zero-copy views over packet bytes. (in progress)
