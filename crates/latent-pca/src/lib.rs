//! PCA.
