//! Object storage for the repository: S3 and a local folder behind one seam (release-chart issue).
