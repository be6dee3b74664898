//! Infrastructure: desired state -> plan -> apply, with rollback (deploy-infra issue).
