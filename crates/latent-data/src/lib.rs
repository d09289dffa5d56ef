//! Readers, writers, embedded datasets and transforms.
